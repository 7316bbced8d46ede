//! The TOML shapes of the register files, and their conversion into the
//! core's register. Unknown keys are refused so that a typo is an error.

use crate::files::DataFiles;
use enduse_core::{
    Authority, AuthorityId, Category, CategoryId, Conflict, DataSetInfo, DateSpec, Dependency,
    DependencyKind, ItemModel, Lot, LotId, MembershipStep, ModelId, Origin, Party, PartyId,
    PartyKind, Place, PlaceCode, PlaceKind, Problem, Register, RuleId, Source, SourceId, Stage,
    StageDate, StepKind, Transfer, TransferId, Treaty,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSetToml {
    name: String,
    title: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourcesToml {
    #[serde(default)]
    source: Vec<SourceToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceToml {
    id: String,
    outlet: String,
    date: String,
    title: String,
    url: Option<String>,
    note: Option<String>,
    quote: Option<String>,
    language: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartiesToml {
    #[serde(default)]
    party: Vec<PartyToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartyToml {
    id: String,
    name: String,
    kind: PartyKindToml,
    country: Option<String>,
    #[serde(default)]
    authorities: Vec<AuthorityToml>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum PartyKindToml {
    State,
    Organisation,
    Company,
    Treaty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorityToml {
    name: String,
    title: String,
    /// The authority it decides for: `Name` of the same party, or `PARTY:Name`.
    acts_for: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlacesToml {
    #[serde(default)]
    place: Vec<PlaceToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaceToml {
    code: String,
    name: String,
    kind: PlaceKindToml,
    parent: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum PlaceKindToml {
    Country,
    Subdivision,
    Area,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelsToml {
    #[serde(default)]
    category: Vec<CategoryToml>,
    #[serde(default)]
    model: Vec<ModelToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryToml {
    id: String,
    name: String,
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelToml {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    category: String,
    origin: String,
    manufacturer: Option<String>,
    #[serde(default)]
    dependencies: Vec<DependencyToml>,
    #[serde(default)]
    persistent: bool,
    #[serde(default)]
    sources: Vec<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DependencyToml {
    kind: DependencyKindToml,
    what: String,
    provider: String,
    source: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum DependencyKindToml {
    Component,
    Data,
    Service,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransfersToml {
    #[serde(default)]
    lot: Vec<LotToml>,
    #[serde(default)]
    transfer: Vec<TransferToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LotToml {
    id: String,
    model: String,
    quantity: Option<u64>,
    persistent: Option<bool>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferToml {
    id: String,
    lot: String,
    from: String,
    to: String,
    stages: Vec<StageToml>,
    #[serde(default)]
    financed_by: Vec<String>,
    refurbished_by: Option<String>,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    note: Option<String>,
    status: Option<String>,
    destination: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StageToml {
    stage: StageKindToml,
    date: String,
    #[serde(default)]
    planned: bool,
    source: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum StageKindToml {
    Pledged,
    Contracted,
    Delivered,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TreatiesToml {
    #[serde(default)]
    treaty: Vec<TreatyToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TreatyToml {
    id: String,
    name: String,
    prohibits: Vec<String>,
    #[serde(default)]
    non_members: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    steps: Vec<StepToml>,
    withdrawal: Option<WithdrawalToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawalToml {
    notice_months: u32,
    #[serde(default)]
    not_during_armed_conflict: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepToml {
    party: String,
    kind: StepKindToml,
    date: String,
    source: String,
    note: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum StepKindToml {
    Signed,
    Ratified,
    Accession,
    InForce,
    NoticeOfWithdrawal,
    Withdrawal,
    Suspension,
    Event,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsToml {
    #[serde(default)]
    approval: Vec<ApprovalToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalToml {
    id: String,
    authority: String,
    decision: DecisionToml,
    /// The rule whose approval was asked, where the source names one.
    rule: Option<String>,
    requester: Option<String>,
    /// When decided (may be imprecise).
    date: Option<String>,
    /// When it became public; default: the earliest source's date.
    public: Option<String>,
    summary: String,
    /// One source (older form) or several.
    source: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
    status: Option<String>,
    quote: Option<String>,
    note: Option<String>,
    /// False: the exact scope is unknown; cited, never applied.
    binding: Option<bool>,
    // Scope: absent means any.
    actor: Option<String>,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    lots: Vec<String>,
    quantity: Option<u64>,
    recipient: Option<String>,
    #[serde(default)]
    places: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct DefaultsToml {
    #[serde(default)]
    default: Vec<DefaultToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DefaultToml {
    id: String,
    party: String,
    actions: Vec<String>,
    effect: DefaultEffectToml,
    authority: Option<String>,
    #[serde(default)]
    transfers: Vec<String>,
    valid_from: String,
    valid_to: Option<String>,
    recorded_at: Option<String>,
    status: Option<String>,
    sources: Vec<String>,
    summary: String,
    quote: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum DefaultEffectToml {
    Permit,
    Forbid,
    NeedsApproval,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupsToml {
    #[serde(default)]
    group: Vec<GroupToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupToml {
    id: String,
    name: String,
    #[serde(default)]
    members: Vec<MemberToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberToml {
    party: String,
    from: String,
    to: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AreasToml {
    #[serde(default)]
    area: Vec<AreaToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AreaToml {
    id: String,
    name: String,
    valid_from: Option<String>,
    valid_to: Option<String>,
    #[serde(default)]
    places: Vec<String>,
    #[serde(default)]
    areas: Vec<String>,
    border_band_km: Option<f64>,
    #[serde(default)]
    opposite: Vec<String>,
    #[serde(default)]
    within: Vec<String>,
    geometry: Option<serde_json::Value>,
    populated_within_km: Option<f64>,
    #[serde(default)]
    sources: Vec<String>,
    note: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetsToml {
    #[serde(default)]
    target: Vec<TermToml>,
    #[serde(default)]
    purpose: Vec<TermToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TermToml {
    id: String,
    name: String,
    parent: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum DecisionToml {
    Granted,
    Refused,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConflictsToml {
    #[serde(default)]
    conflict: Vec<ConflictToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConflictToml {
    id: String,
    name: String,
    parties: Vec<String>,
    from: String,
    to: Option<String>,
    source: String,
}

fn parse<T: DeserializeOwned + Default>(
    files: &DataFiles,
    name: &str,
    required: bool,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(text) = files.get(name) else {
        if required {
            problems.push(Problem::new(
                Origin::File {
                    file: name.into(),
                    span: None,
                },
                format!("the data set has no `{name}`"),
            ));
        }
        return T::default();
    };
    match toml::from_str::<T>(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Problem::new(
                Origin::File {
                    file: name.into(),
                    span: e.span(),
                },
                format!("invalid toml: {}", e.message().trim_end().to_lowercase()),
            ));
            T::default()
        }
    }
}

/// A status as written, or a located problem (and `confirmed`).
fn status_of(
    problems: &mut Vec<Problem>,
    kind: &str,
    id: &str,
    v: Option<&str>,
) -> enduse_core::Status {
    match v {
        None => enduse_core::Status::Confirmed,
        Some(x) => enduse_core::Status::parse(x).unwrap_or_else(|| {
            problems.push(
                Problem::record(kind, id, Some("status"), format!("unknown status `{x}`"))
                    .with_help(Some(
                        "use confirmed, reported, disputed or stated_position".into(),
                    )),
            );
            enduse_core::Status::Confirmed
        }),
    }
}

/// Actions as written, each checked.
fn actions_of(
    problems: &mut Vec<Problem>,
    kind: &str,
    id: &str,
    v: &[String],
) -> Vec<enduse_core::Action> {
    v.iter()
        .filter_map(|a| {
            let x = enduse_core::Action::parse(a);
            if x.is_none() {
                problems.push(
                    Problem::record(kind, id, Some("actions"), format!("unknown action `{a}`"))
                        .with_help(Some("use use, deploy, transfer or reexport".into())),
                );
            }
            x
        })
        .collect()
}

pub(crate) struct Dates<'a> {
    problems: &'a mut Vec<Problem>,
}

impl Dates<'_> {
    fn parse(&mut self, kind: &str, id: &str, field: &str, s: &str) -> Option<DateSpec> {
        match DateSpec::parse(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problems.push(Problem::record(
                    kind,
                    id,
                    Some(field),
                    format!("`{field}`: {e}"),
                ));
                None
            }
        }
    }
}

fn dup<K: Ord + Clone + std::fmt::Display, V>(
    map: &mut BTreeMap<K, V>,
    k: K,
    v: V,
    kind: &str,
    problems: &mut Vec<Problem>,
) {
    match map.entry(k) {
        std::collections::btree_map::Entry::Occupied(e) => {
            let k = e.key();
            problems.push(Problem::record(
                kind,
                k,
                None,
                format!("{kind} `{k}` is declared twice"),
            ));
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(v);
        }
    }
}

/// The register as written in the files, before conversion: the same shapes
/// come from TOML files and from stored records.
#[derive(Default)]
pub(crate) struct Raw {
    pub info: DataSetToml,
    pub sources: Vec<SourceToml>,
    pub parties: Vec<PartyToml>,
    pub places: Vec<PlaceToml>,
    pub categories: Vec<CategoryToml>,
    pub models: Vec<ModelToml>,
    pub lots: Vec<LotToml>,
    pub transfers: Vec<TransferToml>,
    pub treaties: Vec<TreatyToml>,
    pub conflicts: Vec<ConflictToml>,
    pub approvals: Vec<ApprovalToml>,
    pub defaults: Vec<DefaultToml>,
    pub groups: Vec<GroupToml>,
    pub targets: Vec<TermToml>,
    pub purposes: Vec<TermToml>,
    pub areas: Vec<AreaToml>,
}

pub(crate) fn read_raw(files: &DataFiles, problems: &mut Vec<Problem>) -> Raw {
    let info: DataSetToml = parse(files, "dataset.toml", true, problems);
    let sources: SourcesToml = parse(files, "sources.toml", true, problems);
    let parties: PartiesToml = parse(files, "parties.toml", true, problems);
    let places: PlacesToml = parse(files, "places.toml", true, problems);
    let models: ModelsToml = parse(files, "models.toml", true, problems);
    let transfers: TransfersToml = parse(files, "transfers.toml", false, problems);
    let treaties: TreatiesToml = parse(files, "treaties.toml", false, problems);
    let conflicts: ConflictsToml = parse(files, "conflicts.toml", false, problems);
    let approvals: ApprovalsToml = parse(files, "approvals.toml", false, problems);
    let defaults: DefaultsToml = parse(files, "defaults.toml", false, problems);
    let groups: GroupsToml = parse(files, "groups.toml", false, problems);
    let targets: TargetsToml = parse(files, "targets.toml", false, problems);
    let areas: AreasToml = parse(files, "areas.toml", false, problems);
    Raw {
        info,
        sources: sources.source,
        parties: parties.party,
        places: places.place,
        categories: models.category,
        models: models.model,
        lots: transfers.lot,
        transfers: transfers.transfer,
        treaties: treaties.treaty,
        conflicts: conflicts.conflict,
        approvals: approvals.approval,
        defaults: defaults.default,
        groups: groups.group,
        targets: targets.target,
        purposes: targets.purpose,
        areas: areas.area,
    }
}

/// Deserializes one stored record body (JSON) of `kind` into `raw`.
pub(crate) fn push_json(raw: &mut Raw, kind: &str, body: &str) -> Result<(), String> {
    fn de<T: DeserializeOwned>(body: &str) -> Result<T, String> {
        serde_json::from_str(body).map_err(|e| e.to_string())
    }
    match kind {
        "dataset" => raw.info = de(body)?,
        "source" => raw.sources.push(de(body)?),
        "party" => raw.parties.push(de(body)?),
        "place" => raw.places.push(de(body)?),
        "category" => raw.categories.push(de(body)?),
        "model" => raw.models.push(de(body)?),
        "lot" => raw.lots.push(de(body)?),
        "transfer" => raw.transfers.push(de(body)?),
        "treaty" => raw.treaties.push(de(body)?),
        "conflict" => raw.conflicts.push(de(body)?),
        "approval" => raw.approvals.push(de(body)?),
        "default" => raw.defaults.push(de(body)?),
        "group" => raw.groups.push(de(body)?),
        "target" => raw.targets.push(de(body)?),
        "purpose" => raw.purposes.push(de(body)?),
        "area" => raw.areas.push(de(body)?),
        other => return Err(format!("unknown record kind `{other}`")),
    }
    Ok(())
}

/// One lot as written, converted.
pub(crate) fn lot_of(l: LotToml) -> Lot {
    Lot {
        id: LotId::new(&l.id),
        model: ModelId::new(l.model),
        quantity: l.quantity,
        persistent: l.persistent,
        note: l.note,
    }
}

/// One transfer as written, converted; its dates' and status's problems
/// go to `problems`.
pub(crate) fn transfer_of(t: TransferToml, problems: &mut Vec<Problem>) -> Transfer {
    let mut dates = Dates { problems };
    let mut stages = Vec::with_capacity(t.stages.len());
    for s in t.stages {
        if let Some(date) = dates.parse("transfer", &t.id, "stages", &s.date) {
            stages.push(StageDate {
                stage: match s.stage {
                    StageKindToml::Pledged => Stage::Pledged,
                    StageKindToml::Contracted => Stage::Contracted,
                    StageKindToml::Delivered => Stage::Delivered,
                },
                date,
                planned: s.planned,
                source: s.source.map(SourceId::new),
            });
        }
    }
    Transfer {
        id: TransferId::new(&t.id),
        lot: LotId::new(t.lot),
        from: PartyId::new(t.from),
        to: PartyId::new(t.to),
        stages,
        financed_by: t.financed_by.into_iter().map(PartyId::new).collect(),
        refurbished_by: t.refurbished_by.map(PartyId::new),
        conditions: t.conditions.into_iter().map(RuleId::new).collect(),
        sources: t.sources.into_iter().map(SourceId::new).collect(),
        note: t.note,
        status: status_of(dates.problems, "transfer", &t.id, t.status.as_deref()),
        destination: t.destination.map(PartyId::new),
    }
}

pub(crate) fn convert(raw: Raw, problems: &mut Vec<Problem>) -> Register {
    let info = raw.info;
    let mut reg = Register {
        info: DataSetInfo {
            name: info.name,
            title: info.title,
        },
        ..Register::default()
    };
    let mut pending: Vec<Problem> = Vec::new();
    let mut dates = Dates {
        problems: &mut pending,
    };

    for s in raw.sources {
        let Some(date) = dates.parse("source", &s.id, "date", &s.date) else {
            continue;
        };
        let id = SourceId::new(&s.id);
        let v = Source {
            id: id.clone(),
            outlet: s.outlet,
            date,
            title: s.title,
            url: s.url,
            note: s.note,
            quote: s.quote,
            language: s.language,
        };
        dup(&mut reg.sources, id, v, "source", problems);
    }
    for p in raw.parties {
        let id = PartyId::new(&p.id);
        let v = Party {
            id: id.clone(),
            name: p.name,
            kind: match p.kind {
                PartyKindToml::State => PartyKind::State,
                PartyKindToml::Organisation => PartyKind::Organisation,
                PartyKindToml::Company => PartyKind::Company,
                PartyKindToml::Treaty => PartyKind::Treaty,
            },
            country: p.country.map(PartyId::new),
            authorities: p
                .authorities
                .into_iter()
                .map(|a| Authority {
                    id: AuthorityId::new(&id, &a.name),
                    name: a.title,
                    acts_for: a.acts_for.map(|f| {
                        AuthorityId::parse(&f).unwrap_or_else(|| AuthorityId::new(&id, &f))
                    }),
                })
                .collect(),
        };
        dup(&mut reg.parties, id, v, "party", problems);
    }
    for p in raw.places {
        let code = PlaceCode::new(&p.code);
        let v = Place {
            code: code.clone(),
            name: p.name,
            kind: match p.kind {
                PlaceKindToml::Country => PlaceKind::Country,
                PlaceKindToml::Subdivision => PlaceKind::Subdivision,
                PlaceKindToml::Area => PlaceKind::Area,
            },
            parent: p.parent.map(PlaceCode::new),
        };
        dup(&mut reg.places, code, v, "place", problems);
    }
    for c in raw.categories {
        let id = CategoryId::new(&c.id);
        let v = Category {
            id: id.clone(),
            name: c.name,
            parent: c.parent.map(CategoryId::new),
        };
        dup(&mut reg.categories, id, v, "category", problems);
    }
    for m in raw.models {
        let id = ModelId::new(&m.id);
        let v = ItemModel {
            id: id.clone(),
            name: m.name,
            aliases: m.aliases,
            category: CategoryId::new(m.category),
            origin: PartyId::new(m.origin),
            manufacturer: m.manufacturer,
            dependencies: m
                .dependencies
                .into_iter()
                .map(|d| Dependency {
                    kind: match d.kind {
                        DependencyKindToml::Component => DependencyKind::Component,
                        DependencyKindToml::Data => DependencyKind::Data,
                        DependencyKindToml::Service => DependencyKind::Service,
                    },
                    from: d
                        .from
                        .as_deref()
                        .and_then(|f| dates.parse("model", &m.id, "dependencies", f)),
                    to: d
                        .to
                        .as_deref()
                        .and_then(|f| dates.parse("model", &m.id, "dependencies", f)),
                    what: d.what,
                    provider: PartyId::new(d.provider),
                    source: d.source.map(SourceId::new),
                })
                .collect(),
            persistent: m.persistent,
            sources: m.sources.into_iter().map(SourceId::new).collect(),
            note: m.note,
        };
        dup(&mut reg.models, id, v, "model", problems);
    }
    for l in raw.lots {
        let v = lot_of(l);
        dup(&mut reg.lots, v.id.clone(), v, "lot", problems);
    }
    for t in raw.transfers {
        let v = transfer_of(t, dates.problems);
        dup(&mut reg.transfers, v.id.clone(), v, "transfer", problems);
    }
    for t in raw.treaties {
        let mut steps = Vec::new();
        for s in t.steps {
            if let Some(date) = dates.parse("treaty", &t.id, "steps", &s.date) {
                steps.push(MembershipStep {
                    party: PartyId::new(s.party),
                    kind: match s.kind {
                        StepKindToml::Signed => StepKind::Signed,
                        StepKindToml::Ratified => StepKind::Ratified,
                        StepKindToml::Accession => StepKind::Accession,
                        StepKindToml::InForce => StepKind::InForce,
                        StepKindToml::NoticeOfWithdrawal => StepKind::NoticeOfWithdrawal,
                        StepKindToml::Withdrawal => StepKind::Withdrawal,
                        StepKindToml::Suspension => StepKind::Suspension,
                        StepKindToml::Event => StepKind::Event,
                    },
                    date,
                    source: SourceId::new(s.source),
                    note: s.note,
                    status: status_of(dates.problems, "treaty", &t.id, s.status.as_deref()),
                });
            }
        }
        let id = PartyId::new(&t.id);
        let v = Treaty {
            id: id.clone(),
            name: t.name,
            prohibits: t.prohibits.into_iter().map(CategoryId::new).collect(),
            steps,
            non_members: t.non_members.into_iter().map(PartyId::new).collect(),
            sources: t.sources.into_iter().map(SourceId::new).collect(),
            withdrawal: t.withdrawal.map(|w| enduse_core::WithdrawalRule {
                notice_months: w.notice_months,
                not_during_armed_conflict: w.not_during_armed_conflict,
            }),
        };
        dup(&mut reg.treaties, id, v, "treaty", problems);
    }
    for c in raw.conflicts {
        let from = dates.parse("conflict", &c.id, "from", &c.from);
        let to =
            c.to.as_deref()
                .and_then(|t| dates.parse("conflict", &c.id, "to", t));
        if let Some(from) = from {
            reg.conflicts.push(Conflict {
                id: c.id,
                name: c.name,
                parties: c.parties.into_iter().map(PartyId::new).collect(),
                from,
                to,
                source: SourceId::new(c.source),
            });
        }
    }
    for a in raw.approvals {
        let opt_date = |dates: &mut Dates, field: &str, v: &Option<String>| {
            v.as_deref()
                .and_then(|x| dates.parse("approval", &a.id, field, x))
        };
        let decided = opt_date(&mut dates, "date", &a.date);
        let public = opt_date(&mut dates, "public", &a.public);
        let from = opt_date(&mut dates, "valid_from", &a.valid_from);
        let to = opt_date(&mut dates, "valid_to", &a.valid_to);
        let authority = AuthorityId::parse(&a.authority);
        if authority.is_none() {
            dates.problems.push(Problem::record(
                "approval",
                &a.id,
                Some("authority"),
                format!("`{}` is not an authority; write PARTY:Name", a.authority),
            ));
        }
        let actions = actions_of(dates.problems, "approval", &a.id, &a.actions);
        let status = status_of(dates.problems, "approval", &a.id, a.status.as_deref());
        let Some(authority) = authority else { continue };
        let mut sources: Vec<SourceId> = a.source.iter().map(SourceId::new).collect();
        sources.extend(a.sources.iter().map(SourceId::new));
        reg.consents.push(enduse_core::Consent {
            id: a.id,
            authority,
            granted: a.decision == DecisionToml::Granted,
            rule: a.rule.map(RuleId::new),
            requester: a.requester.clone().map(PartyId::new),
            scope: enduse_core::ConsentScope {
                actor: a.actor.or(a.requester).map(PartyId::new),
                actions,
                models: a.models.into_iter().map(ModelId::new).collect(),
                lots: a.lots.into_iter().map(LotId::new).collect(),
                quantity: a.quantity,
                recipient: a.recipient.map(PartyId::new),
                places: a.places.into_iter().map(PlaceCode::new).collect(),
                targets: a.targets,
                from,
                to,
            },
            decided,
            public,
            status,
            sources,
            summary: a.summary,
            quote: a.quote,
            binding: a.binding.unwrap_or(true),
            note: a.note,
        });
    }
    for d in raw.defaults {
        let valid_from = dates.parse("default", &d.id, "valid_from", &d.valid_from);
        let valid_to = d
            .valid_to
            .as_deref()
            .and_then(|x| dates.parse("default", &d.id, "valid_to", x));
        let recorded_at = match d.recorded_at.as_deref().map(enduse_core::parse_day) {
            None => None,
            Some(Ok(x)) => Some(x),
            Some(Err(e)) => {
                dates.problems.push(Problem::record(
                    "default",
                    &d.id,
                    Some("recorded_at"),
                    format!("`recorded_at`: {e} (one day: the first public report)"),
                ));
                None
            }
        };
        let actions = actions_of(dates.problems, "default", &d.id, &d.actions);
        let status = status_of(dates.problems, "default", &d.id, d.status.as_deref());
        let authority = d.authority.as_deref().map(|x| {
            AuthorityId::parse(x).unwrap_or_else(|| AuthorityId::new(&PartyId::new(&d.party), x))
        });
        let Some(valid_from) = valid_from else {
            continue;
        };
        reg.defaults.push(enduse_core::PartyDefault {
            id: d.id,
            party: PartyId::new(d.party),
            actions,
            effect: match d.effect {
                DefaultEffectToml::Permit => enduse_core::DefaultEffect::Permit,
                DefaultEffectToml::Forbid => enduse_core::DefaultEffect::Forbid,
                DefaultEffectToml::NeedsApproval => enduse_core::DefaultEffect::NeedsApproval,
            },
            authority,
            transfers: d.transfers.into_iter().map(TransferId::new).collect(),
            valid_from,
            valid_to,
            recorded_at,
            status,
            sources: d.sources.into_iter().map(SourceId::new).collect(),
            summary: d.summary,
            quote: d.quote,
            note: d.note,
        });
    }
    for g in raw.groups {
        let mut members = Vec::new();
        for m in g.members {
            let from = dates.parse("group", &g.id, "members", &m.from);
            let to =
                m.to.as_deref()
                    .and_then(|x| dates.parse("group", &g.id, "members", x));
            if let Some(from) = from {
                members.push(enduse_core::GroupMembership {
                    party: PartyId::new(m.party),
                    from,
                    to,
                    source: m.source.map(SourceId::new),
                });
            }
        }
        let v = enduse_core::Group {
            id: g.id.clone(),
            name: g.name,
            members,
        };
        dup(&mut reg.groups, g.id, v, "group", problems);
    }
    for a in raw.areas {
        let d = |dates: &mut Dates, f: &str, v: &Option<String>| {
            v.as_deref().and_then(|x| dates.parse("area", &a.id, f, x))
        };
        let valid_from = d(&mut dates, "valid_from", &a.valid_from);
        let valid_to = d(&mut dates, "valid_to", &a.valid_to);
        let v = enduse_core::NamedArea {
            id: a.id.clone(),
            name: a.name,
            valid_from,
            valid_to,
            places: a.places.into_iter().map(PlaceCode::new).collect(),
            areas: a.areas,
            border_band_km: a.border_band_km,
            opposite: a.opposite.into_iter().map(PlaceCode::new).collect(),
            within: a.within.into_iter().map(PlaceCode::new).collect(),
            geometry: a.geometry.map(|g| g.to_string()),
            populated_within_km: a.populated_within_km,
            sources: a.sources.into_iter().map(SourceId::new).collect(),
            note: a.note,
        };
        dup(&mut reg.areas, a.id, v, "area", problems);
    }
    for (kind, list) in [("target", raw.targets), ("purpose", raw.purposes)] {
        for t in list {
            let v = enduse_core::Term {
                id: t.id.clone(),
                name: t.name,
                parent: t.parent,
            };
            let map = if kind == "target" {
                &mut reg.targets
            } else {
                &mut reg.purposes
            };
            dup(map, t.id, v, kind, problems);
        }
    }
    // One order whatever the source (files keep theirs, a store returns
    // records by key): answers must not depend on which was read.
    reg.consents.sort_by(|a, b| a.id.cmp(&b.id));
    reg.defaults.sort_by(|a, b| a.id.cmp(&b.id));
    problems.append(&mut pending);
    reg
}
