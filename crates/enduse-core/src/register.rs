//! The register: parties, places, sources, item models, lots, transfers,
//! treaties and conflicts. Plain data; the loader fills it, the engine reads it.

use crate::date::DateSpec;
use crate::fxhash::FxMap;
use crate::ids::{
    AuthorityId, CategoryId, LotId, ModelId, PartyId, PlaceCode, RuleId, SourceId, TransferId,
};
use crate::vocab::{Consent, Group, PartyDefault, Status, Term, WithdrawalRule};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of actor a party is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A sovereign state, named by its ISO 3166-1 alpha-2 code.
    State,
    /// An international organisation.
    Organisation,
    /// A company (manufacturer, refurbisher).
    Company,
    /// A treaty regime whose prohibitions bind its members.
    Treaty,
}

/// A named authority inside a party that can grant approvals (`US:SecDef`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authority {
    /// `PARTY:Name`.
    pub id: AuthorityId,
    /// Human name ("Secretary of Defense").
    pub name: String,
    /// The authority this one decides for (an export-control office acting
    /// for its government): a decision of either counts for both.
    pub acts_for: Option<AuthorityId>,
}

/// A party of the register.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Party {
    /// Code (`US`, `Rheinmetall`, `OTTAWA`).
    pub id: PartyId,
    /// Human name.
    pub name: String,
    /// Kind of party.
    pub kind: PartyKind,
    /// For companies: the state whose law governs them.
    pub country: Option<PartyId>,
    /// Authorities that can approve requests.
    pub authorities: Vec<Authority>,
}

/// Whether a place is a country or a subdivision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// ISO 3166-1.
    Country,
    /// ISO 3166-2.
    Subdivision,
    /// Any other named area (a sea, a region).
    Area,
}

/// A place, in a de jure hierarchy (RU-KRS is in RU; UA-43 is in UA).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Place {
    /// ISO code.
    pub code: PlaceCode,
    /// Human name.
    pub name: String,
    /// Kind of place.
    pub kind: PlaceKind,
    /// The enclosing place, if any.
    pub parent: Option<PlaceCode>,
}

/// A public source: an article, a law, a treaty record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// Identifier used by rules and records.
    pub id: SourceId,
    /// Outlet ("Washington Post").
    pub outlet: String,
    /// Publication date; may be approximate.
    pub date: DateSpec,
    /// Headline or title.
    pub title: String,
    /// Address, where known.
    pub url: Option<String>,
    /// Caveats (how the date was inferred, who is cited).
    pub note: Option<String>,
    /// A short quote of what the source says of the facts that cite it.
    pub quote: Option<String>,
    /// Language, where not English.
    pub language: Option<String>,
}

/// What a model depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// A physical component.
    Component,
    /// Data (targeting, navigation).
    Data,
    /// A service (maintenance, training).
    Service,
}

/// A dependency of a model on a provider party.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dependency {
    /// Kind of dependency.
    pub kind: DependencyKind,
    /// What is provided ("targeting data").
    pub what: String,
    /// Who provides it.
    pub provider: PartyId,
    /// Where this is reported.
    pub source: Option<SourceId>,
    /// In force from (binds only while in force; imprecise: from its earliest day).
    pub from: Option<DateSpec>,
    /// In force until (exclusive).
    pub to: Option<DateSpec>,
}

impl Dependency {
    /// Whether the dependency holds on `d`, read strictly (it binds from the
    /// earliest possible start to the latest possible end).
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f.earliest() <= d) && self.to.is_none_or(|t| d < t.latest())
    }
}

/// An item category, possibly within a broader one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Category {
    /// Identifier (`anti-personnel-mine`).
    pub id: CategoryId,
    /// Human name.
    pub name: String,
    /// Broader category.
    pub parent: Option<CategoryId>,
}

/// An item model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemModel {
    /// Designation (`ATACMS`).
    pub id: ModelId,
    /// Full name.
    pub name: String,
    /// Other spellings accepted on input.
    pub aliases: Vec<String>,
    /// Category.
    pub category: CategoryId,
    /// Origin party (whose export law governs the design).
    pub origin: PartyId,
    /// Manufacturer, when known.
    pub manufacturer: Option<String>,
    /// Dependencies on components, data and services.
    pub dependencies: Vec<Dependency>,
    /// For mines: whether they stay active indefinitely.
    pub persistent: bool,
    /// Sources for the model's facts.
    pub sources: Vec<SourceId>,
    /// Caveats.
    pub note: Option<String>,
}

/// A quantity of one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lot {
    /// Identifier.
    pub id: LotId,
    /// The model.
    pub model: ModelId,
    /// Number of items, where reported.
    pub quantity: Option<u64>,
    /// Overrides the model's `persistent` flag for this lot.
    pub persistent: Option<bool>,
    /// Caveats.
    pub note: Option<String>,
}

/// The stage of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Announced or promised.
    Pledged,
    /// Contract signed.
    Contracted,
    /// Handed over.
    Delivered,
}

/// A dated stage of a transfer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageDate {
    /// Which stage.
    pub stage: Stage,
    /// When (possibly approximate).
    pub date: DateSpec,
    /// True when the date is a plan ("due by end of January"), not a fact.
    pub planned: bool,
    /// Where this is reported.
    pub source: Option<SourceId>,
}

/// A transfer of a lot between two parties.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    /// Identifier.
    pub id: TransferId,
    /// The lot.
    pub lot: LotId,
    /// Sender.
    pub from: PartyId,
    /// Recipient.
    pub to: PartyId,
    /// Dated stages, in order.
    pub stages: Vec<StageDate>,
    /// Parties that paid.
    pub financed_by: Vec<PartyId>,
    /// Party that refurbished the items.
    pub refurbished_by: Option<PartyId>,
    /// Rules of the sender attached to this transfer.
    pub conditions: Vec<RuleId>,
    /// Sources.
    pub sources: Vec<SourceId>,
    /// Caveats.
    pub note: Option<String>,
    /// How well established.
    pub status: Status,
    /// The final destination, where it differs from the immediate recipient.
    pub destination: Option<PartyId>,
}

impl Transfer {
    /// The first day on which any stage may have happened.
    pub fn first_date(&self) -> Option<NaiveDate> {
        self.stages.iter().map(|s| s.date.earliest()).min()
    }
}

/// A step in a party's membership of a treaty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Signature (does not bind by itself here).
    Signed,
    /// Ratification deposited.
    Ratified,
    /// Accession deposited.
    Accession,
    /// Entry into force for this party: binding from this day.
    InForce,
    /// Notice of withdrawal deposited: the treaty's withdrawal rule says
    /// when it takes effect.
    NoticeOfWithdrawal,
    /// Withdrawal takes effect: no longer binding from this day.
    Withdrawal,
    /// Suspension: no longer binding from this day.
    Suspension,
    /// A vote, a government decision or a decree: an event on the record
    /// that changes nothing by itself.
    Event,
}

/// A dated membership step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipStep {
    /// The member.
    pub party: PartyId,
    /// What happened.
    pub kind: StepKind,
    /// When.
    pub date: DateSpec,
    /// Where it is recorded.
    pub source: SourceId,
    /// What it was (for events: "parliament approved withdrawal").
    pub note: Option<String>,
    /// How well established: a disputed step (a "suspension" the treaty
    /// does not provide for) counts only in the "if it held" evaluation.
    pub status: Status,
}

/// A treaty. Its prohibitions are rules owned by the treaty's party id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Treaty {
    /// The party id under which the treaty's rules are filed (`OTTAWA`).
    pub id: PartyId,
    /// Full name.
    pub name: String,
    /// Categories of items it prohibits.
    pub prohibits: Vec<CategoryId>,
    /// Membership steps.
    pub steps: Vec<MembershipStep>,
    /// Parties known not to be members (for explanations).
    pub non_members: Vec<PartyId>,
    /// Sources for the non-membership facts.
    pub sources: Vec<SourceId>,
    /// When a notice of withdrawal takes effect; `None`: notices are only
    /// recorded, and a `withdrawal` step marks the effect.
    pub withdrawal: Option<WithdrawalRule>,
}

impl Treaty {
    /// Whether `party` is bound on `date`: an in-force step on or before it,
    /// with no later withdrawal or suspension that has taken effect. An
    /// imprecise step date binds from its earliest day (the stricter reading).
    /// A notice of withdrawal takes effect under the treaty's withdrawal rule,
    /// which may depend on the armed `conflicts` the party is engaged in.
    pub fn binds(&self, party: &PartyId, date: NaiveDate, conflicts: &[Conflict]) -> bool {
        self.binds_as_known(party, date, conflicts, &|_| true)
    }

    /// [`Treaty::binds`] counting only the steps `known` accepts (those
    /// public on the known-at day): as the record then stood.
    pub fn binds_as_known(
        &self,
        party: &PartyId,
        date: NaiveDate,
        conflicts: &[Conflict],
        known: &dyn Fn(&MembershipStep) -> bool,
    ) -> bool {
        let mut bound = false;
        let mut steps: Vec<&MembershipStep> = self
            .steps
            .iter()
            .filter(|s| &s.party == party && s.date.earliest() <= date && known(s))
            .collect();
        steps.sort_by_key(|s| s.date.earliest());
        for s in steps {
            match s.kind {
                StepKind::InForce => bound = true,
                StepKind::Withdrawal | StepKind::Suspension if s.date.latest() <= date => {
                    bound = false
                }
                StepKind::NoticeOfWithdrawal
                    if self
                        .withdrawal_effect(party, s.date, conflicts)
                        .is_some_and(|e| e <= date) =>
                {
                    bound = false
                }
                _ => {}
            }
        }
        bound
    }

    /// The day a notice of withdrawal given on `notice` takes effect for
    /// `party`, or `None` if not (yet) foreseeable: with no withdrawal rule,
    /// or during an armed conflict that has not ended.
    pub fn withdrawal_effect(
        &self,
        party: &PartyId,
        notice: DateSpec,
        conflicts: &[Conflict],
    ) -> Option<NaiveDate> {
        let rule = self.withdrawal?;
        let end = notice
            .latest()
            .checked_add_months(chrono::Months::new(rule.notice_months))?;
        if !rule.not_during_armed_conflict {
            return Some(end);
        }
        let engaged = conflicts.iter().find(|c| {
            c.parties.contains(party)
                && c.from.earliest() <= end
                && c.to.is_none_or(|t| end < t.latest())
        });
        match engaged {
            None => Some(end),
            // Takes effect only at the end of the conflict (read strictly).
            Some(c) => c.to.map(|t| t.latest()),
        }
    }
}

/// An armed conflict: its parties are "parties to a conflict" in re-export rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conflict {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Belligerents.
    pub parties: Vec<PartyId>,
    /// Start.
    pub from: DateSpec,
    /// End, if it ended.
    pub to: Option<DateSpec>,
    /// Source.
    pub source: SourceId,
}

/// Descriptive facts of a data set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DataSetInfo {
    /// Short name (`ukraine-2022-2025`).
    pub name: String,
    /// One-line description.
    pub title: String,
}

/// Everything the register holds except the rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Register {
    /// Data-set description.
    pub info: DataSetInfo,
    /// Parties by id.
    pub parties: BTreeMap<PartyId, Party>,
    /// Places by code.
    pub places: BTreeMap<PlaceCode, Place>,
    /// Sources by id.
    pub sources: BTreeMap<SourceId, Source>,
    /// Categories by id.
    pub categories: BTreeMap<CategoryId, Category>,
    /// Models by designation.
    pub models: BTreeMap<ModelId, ItemModel>,
    /// Lots by id.
    pub lots: BTreeMap<LotId, Lot>,
    /// Transfers by id.
    pub transfers: BTreeMap<TransferId, Transfer>,
    /// Treaties by their party id.
    pub treaties: BTreeMap<PartyId, Treaty>,
    /// Conflicts.
    pub conflicts: Vec<Conflict>,
    /// Recorded decisions of authorities: consents granted and refused.
    pub consents: Vec<Consent>,
    /// What each party's silence means.
    pub defaults: Vec<PartyDefault>,
    /// Groups of parties, by id.
    pub groups: BTreeMap<String, Group>,
    /// Target classes, by id.
    pub targets: BTreeMap<String, Term>,
    /// Purposes, by id.
    pub purposes: BTreeMap<String, Term>,
    /// Named areas, by id.
    pub areas: BTreeMap<String, crate::vocab::NamedArea>,
}

impl Register {
    /// Whether `party` is a party to an armed conflict on `date`. An imprecise
    /// start counts from its earliest day (the stricter reading for re-export bans).
    pub fn in_conflict(&self, party: &PartyId, date: NaiveDate) -> bool {
        self.conflicts.iter().any(|c| {
            c.parties.contains(party)
                && c.from.earliest() <= date
                && c.to.is_none_or(|t| date < t.latest())
        })
    }

    /// The authority at the top of `a`'s chain of `acts_for`.
    pub fn authority_root(&self, a: &AuthorityId) -> AuthorityId {
        let mut cur = a.clone();
        let mut seen = vec![cur.clone()];
        while let Some(next) = self
            .parties
            .get(&cur.party())
            .and_then(|p| p.authorities.iter().find(|x| x.id == cur))
            .and_then(|x| x.acts_for.clone())
        {
            if seen.contains(&next) {
                break;
            }
            seen.push(next.clone());
            cur = next;
        }
        cur
    }

    /// Whether a decision of `by` counts for a rule that names `named`: the
    /// same authority, or one that decides for the other (either way round).
    pub fn same_decider(&self, by: &AuthorityId, named: &AuthorityId) -> bool {
        by == named || self.authority_root(by) == self.authority_root(named)
    }

    /// A target class and all its broader classes, narrowest first.
    pub fn target_chain(&self, id: &str) -> Vec<String> {
        term_chain(&self.targets, id)
    }

    /// The human name of a party, or its code if unknown.
    pub fn party_name(&self, id: &PartyId) -> String {
        self.parties
            .get(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// The category and all its broader categories, narrowest first.
    pub fn category_chain(&self, id: &CategoryId) -> Vec<CategoryId> {
        let mut out = vec![id.clone()];
        let mut cur = self.categories.get(id).and_then(|c| c.parent.clone());
        while let Some(c) = cur {
            if out.contains(&c) {
                break;
            }
            cur = self.categories.get(&c).and_then(|x| x.parent.clone());
            out.push(c);
        }
        out
    }

    /// The place and all enclosing places, narrowest first.
    pub fn place_chain(&self, code: &PlaceCode) -> Vec<PlaceCode> {
        let mut out = vec![code.clone()];
        let mut cur = self.places.get(code).and_then(|p| p.parent.clone());
        while let Some(c) = cur {
            if out.contains(&c) {
                break;
            }
            cur = self.places.get(&c).and_then(|x| x.parent.clone());
            out.push(c);
        }
        out
    }

    /// The groups `party` belongs to on `d`.
    pub fn groups_of(&self, party: &PartyId, d: NaiveDate) -> Vec<&str> {
        self.groups
            .values()
            .filter(|g| g.has_member(party, d))
            .map(|g| g.id.as_str())
            .collect()
    }

    /// The source dates of `ids`, earliest first.
    pub fn earliest_source_date(&self, ids: &[SourceId]) -> Option<DateSpec> {
        ids.iter()
            .filter_map(|i| self.sources.get(i).map(|s| s.date))
            .min_by_key(|d| d.earliest())
    }

    /// Finds a model by designation, name or alias, ignoring case, spaces and hyphens.
    pub fn find_model(&self, query: &str) -> Option<&ItemModel> {
        let norm = |s: &str| {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        };
        let q = norm(query);
        self.models.values().find(|m| {
            norm(m.id.as_str()) == q || norm(&m.name) == q || m.aliases.iter().any(|a| norm(a) == q)
        })
    }

    /// Transfers of `lot`, ordered by their first date.
    pub fn transfers_of_lot(&self, lot: &LotId) -> Vec<&Transfer> {
        let mut v: Vec<&Transfer> = self.transfers.values().filter(|t| &t.lot == lot).collect();
        v.sort_by_key(|t| t.first_date());
        v
    }
}

/// The engine's indexes over the lots: each lot's position in id order,
/// and the lots of each model.
pub(crate) type LotIndexes = (FxMap<LotId, u32>, FxMap<ModelId, Vec<LotId>>);

/// Builds [`LotIndexes`] in one pass over the lots.
pub(crate) fn index_lots(lots: &BTreeMap<LotId, Lot>) -> LotIndexes {
    let mut lot_ix = FxMap::default();
    lot_ix.reserve(lots.len());
    let mut of_model: FxMap<ModelId, Vec<LotId>> = FxMap::default();
    for (i, (k, l)) in lots.iter().enumerate() {
        lot_ix.insert(k.clone(), i as u32);
        of_model
            .entry(l.model.clone())
            .or_default()
            .push(l.id.clone());
    }
    (lot_ix, of_model)
}

/// The engine's index over the transfers: the transfers of each lot, by
/// their first date (ties by id); and whether any transfer is disputed.
pub(crate) type TransferIndex = (FxMap<LotId, Vec<TransferId>>, bool);

/// Builds [`TransferIndex`] in one pass over the transfers: a lookup per
/// lot would be quadratic in a register of a million transfers.
///
/// A data set lists a lot's transfers together, so in id order they come
/// in runs of one lot: each run is ordered and stored with one map lookup,
/// not one per transfer. A lot met again after another's transfers (ids
/// that interleave) is merged with what it had and ordered anew.
pub(crate) fn index_transfers(transfers: &BTreeMap<TransferId, Transfer>) -> TransferIndex {
    let runs = 1 + transfers
        .values()
        .zip(transfers.values().skip(1))
        .filter(|(a, b)| a.lot != b.lot)
        .count();
    let mut out: FxMap<LotId, Vec<TransferId>> = FxMap::default();
    out.reserve(runs);
    let mut disputed = false;
    let mut run: Vec<(Option<NaiveDate>, &TransferId)> = Vec::new();
    let mut lot: Option<&LotId> = None;
    for t in transfers.values() {
        disputed |= t.status == Status::Disputed;
        if lot != Some(&t.lot) {
            if let Some(l) = lot {
                store_run(transfers, &mut out, l, &mut run);
            }
            lot = Some(&t.lot);
        }
        run.push((t.first_date(), &t.id));
    }
    if let Some(l) = lot {
        store_run(transfers, &mut out, l, &mut run);
    }
    (out, disputed)
}

/// Adds the transfers of one run (in id order) to `lot`'s, by their first
/// date, ties by id; empties `run`.
fn store_run<'a>(
    transfers: &'a BTreeMap<TransferId, Transfer>,
    out: &mut FxMap<LotId, Vec<TransferId>>,
    lot: &LotId,
    run: &mut Vec<(Option<NaiveDate>, &'a TransferId)>,
) {
    match out.entry(lot.clone()) {
        std::collections::hash_map::Entry::Vacant(e) => {
            // Stable: transfers of one day stay in id order.
            run.sort_by_key(|&(d, _)| d);
            e.insert(run.iter().map(|&(_, id)| id.clone()).collect());
        }
        std::collections::hash_map::Entry::Occupied(mut e) => {
            let had = e.get();
            run.extend(had.iter().filter_map(|id| {
                let t = transfers.get(id)?;
                Some((t.first_date(), &t.id))
            }));
            run.sort();
            *e.get_mut() = run.iter().map(|&(_, id)| id.clone()).collect();
        }
    }
    run.clear();
}

/// A term and all its broader terms, narrowest first.
pub(crate) fn term_chain(terms: &BTreeMap<String, Term>, id: &str) -> Vec<String> {
    let mut out = vec![id.to_owned()];
    let mut cur = terms.get(id).and_then(|t| t.parent.clone());
    while let Some(c) = cur {
        if out.contains(&c) {
            break;
        }
        cur = terms.get(&c).and_then(|x| x.parent.clone());
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(id: &str, lot: &str, days: &[&str], status: Status) -> Transfer {
        Transfer {
            id: TransferId::new(id),
            lot: LotId::new(lot),
            from: PartyId::new("A"),
            to: PartyId::new("B"),
            stages: days
                .iter()
                .map(|d| StageDate {
                    stage: Stage::Delivered,
                    date: DateSpec::parse(d).unwrap(),
                    planned: false,
                    source: None,
                })
                .collect(),
            financed_by: vec![],
            refurbished_by: None,
            conditions: vec![],
            sources: vec![],
            note: None,
            status,
            destination: None,
        }
    }

    fn lot(id: &str, model: &str) -> Lot {
        Lot {
            id: LotId::new(id),
            model: ModelId::new(model),
            quantity: None,
            persistent: None,
            note: None,
        }
    }

    fn register(transfers: Vec<Transfer>, lots: Vec<Lot>) -> Register {
        Register {
            transfers: transfers.into_iter().map(|t| (t.id.clone(), t)).collect(),
            lots: lots.into_iter().map(|l| (l.id.clone(), l)).collect(),
            ..Register::default()
        }
    }

    #[test]
    fn the_transfer_index_orders_each_lot_as_the_register_does() {
        // Ties on the first day, an imprecise month, a transfer without
        // stages, ids out of date order, and a lot of its own.
        let reg = register(
            vec![
                transfer("T9", "L1", &["2023-01-05"], Status::Confirmed),
                transfer("T2", "L1", &["2023-03-01", "2022-12-31"], Status::Reported),
                transfer("T3", "L1", &["2023-01-05"], Status::Confirmed),
                transfer("T1", "L1", &[], Status::Confirmed),
                transfer("T4", "L2", &["2023-02"], Status::Confirmed),
                transfer("T5", "L2", &["2023-02-01"], Status::Confirmed),
            ],
            vec![],
        );
        let (index, disputed) = index_transfers(&reg.transfers);
        assert!(!disputed);
        assert_eq!(index.len(), 2);
        assert_eq!(
            indexed_as_naive(&reg, &index, "L1"),
            ["T1", "T2", "T3", "T9"]
        );

        let reg = register(
            vec![transfer("T1", "L1", &["2023-01-05"], Status::Disputed)],
            vec![],
        );
        assert!(index_transfers(&reg.transfers).1);
    }

    /// Checks that every lot of `index` lists its transfers exactly as
    /// [`Register::transfers_of_lot`] does; returns those of `lot`.
    fn indexed_as_naive<'a>(
        reg: &Register,
        index: &'a FxMap<LotId, Vec<TransferId>>,
        lot: &str,
    ) -> Vec<&'a str> {
        for (l, ids) in index {
            let naive: Vec<&TransferId> = reg.transfers_of_lot(l).iter().map(|t| &t.id).collect();
            assert_eq!(ids.iter().collect::<Vec<_>>(), naive, "lot {l}");
        }
        index[&LotId::new(lot)].iter().map(|t| t.as_str()).collect()
    }

    #[test]
    fn a_lot_whose_transfer_ids_interleave_with_another_is_indexed_whole() {
        // L1's transfers come in three runs in id order (T1; T3-T4; T7),
        // with L2's between them, and out of date order across runs.
        let reg = register(
            vec![
                transfer("T1", "L1", &["2023-05-01"], Status::Confirmed),
                transfer("T2", "L2", &["2023-01-01"], Status::Confirmed),
                transfer("T3", "L1", &["2023-01-05"], Status::Confirmed),
                transfer("T4", "L1", &["2023-05-01"], Status::Confirmed),
                transfer("T5", "L2", &["2022-01-01"], Status::Confirmed),
                transfer("T6", "L3", &[], Status::Confirmed),
                transfer("T7", "L1", &["2023-01"], Status::Confirmed),
            ],
            vec![],
        );
        let (index, _) = index_transfers(&reg.transfers);
        assert_eq!(index.len(), 3);
        assert_eq!(
            indexed_as_naive(&reg, &index, "L1"),
            ["T7", "T3", "T1", "T4"]
        );
        assert!(index_transfers(&BTreeMap::new()).0.is_empty());
    }

    #[test]
    fn the_lot_index_numbers_lots_in_id_order_and_groups_them_by_model() {
        let reg = register(
            vec![],
            vec![lot("L3", "M1"), lot("L1", "M2"), lot("L2", "M1")],
        );
        let (lot_ix, of_model) = index_lots(&reg.lots);
        for (i, id) in reg.lots.keys().enumerate() {
            assert_eq!(lot_ix[id], i as u32);
        }
        let m1: Vec<&str> = of_model[&ModelId::new("M1")]
            .iter()
            .map(|l| l.as_str())
            .collect();
        assert_eq!(m1, ["L2", "L3"]);
        assert_eq!(of_model[&ModelId::new("M2")], [LotId::new("L1")]);
        assert_eq!(of_model.len(), 2);
    }
}
