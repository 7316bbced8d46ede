//! [`Snapshot`]: the engine, the control layer and the named areas of one
//! register as one read found it, and every question a front end asks of
//! it.

use crate::ask::{self, Ask, ChainAsk, Days, ItemAsk, PoliciesAsk, WhereAsk};
use crate::error::{cut, Error, Result};
use crate::geo::{self, Point, PointFacts};
use crate::reports::{
    ChainReport, CheckReport, DeJure, MapReport, Names, Period, PoliciesReport, Stretch,
    TimelineReport, WhereReport,
};
use chrono::{DateTime, NaiveDate, Utc};
use enduse_core::{
    check_dates, Action, Decision, Engine, ItemRef, Outcome, PartyId, PlaceCode, Query,
    RequestError, StatusFilter,
};
use enduse_geo::{ControlLayer, LatLon, NamedAreas};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Where a register comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterSource {
    /// The data set bundled into the program, with the bundled control
    /// layer.
    Bundled,
    /// A data-set directory (with its `control.json`, if it has one).
    Directory(PathBuf),
    /// A database (SQLite path, PostgreSQL connection string), as it stood
    /// at an instant (now if `None`). Opened read-only.
    Database {
        /// The database.
        target: String,
        /// The instant.
        at: Option<DateTime<Utc>>,
    },
}

impl RegisterSource {
    /// The register, read once.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>> {
        match self {
            RegisterSource::Bundled => {
                static BUNDLED: OnceLock<Arc<Snapshot>> = OnceLock::new();
                if let Some(s) = BUNDLED.get() {
                    return Ok(s.clone());
                }
                let engine = bundled_engine()?;
                let s = Arc::new(Snapshot::new(
                    engine,
                    SnapshotOrigin {
                        source: "bundled",
                        name: enduse_load::BUNDLED_NAME.into(),
                        txn: None,
                    },
                    ControlSource::Bundled,
                ));
                Ok(BUNDLED.get_or_init(|| s).clone())
            }
            RegisterSource::Directory(dir) => {
                let files = enduse_load::DataFiles::read_dir(dir)?;
                let engine = enduse_load::load_files(&files)?;
                let control = match files.get(enduse_load::CONTROL_FILE) {
                    Some(text) => ControlSource::Text {
                        name: dir.join(enduse_load::CONTROL_FILE).display().to_string(),
                        text: text.to_owned(),
                    },
                    None => ControlSource::Bundled,
                };
                Ok(Arc::new(Snapshot::new(
                    engine,
                    SnapshotOrigin {
                        source: "directory",
                        name: dir.display().to_string(),
                        txn: None,
                    },
                    control,
                )))
            }
            RegisterSource::Database { target, at } => {
                crate::Register::open_read_only(target)?.snapshot(*at)
            }
        }
    }
}

/// The bundled register as built at build time (see `build.rs`), sealed
/// with the digest of the files it was built from.
static BUNDLED_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundled.image"));

/// The bundled data set's engine: from the image made at build time when
/// it was made from exactly the bundled files (no TOML, JSON or Cedar is
/// parsed then), else by loading the files, which stay the truth.
fn bundled_engine() -> Result<Engine> {
    // The files' digest is a build-time constant: the files are copied out
    // of the binary only when the image does not fit them.
    match enduse_load::engine_for_digest(&enduse_load::bundled_files_digest(), BUNDLED_IMAGE) {
        Some(engine) => Ok(engine),
        None => Ok(enduse_load::load_files(&enduse_load::bundled_files())?),
    }
}

/// Where a snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotOrigin {
    /// `bundled`, `directory` or `database`.
    pub source: &'static str,
    /// The data set's name, the directory, or the database.
    pub name: String,
    /// For a database: the latest transaction the register holds.
    pub txn: Option<i64>,
}

/// Where the control layer comes from.
#[derive(Debug, Clone)]
pub(crate) enum ControlSource {
    /// `data/geo/control.json`, bundled.
    Bundled,
    /// A layer's JSON text, named in messages.
    Text { name: String, text: String },
}

/// A register as one read found it: the engine, the control layer (who
/// controls which area when) and the named areas, tagged with where it came
/// from (for a database, the transaction). Every question a front end asks
/// is a method here, answered as a typed report.
pub struct Snapshot {
    engine: Arc<Engine>,
    origin: SnapshotOrigin,
    control_source: ControlSource,
    control: OnceLock<ControlLayer>,
    areas: OnceLock<NamedAreas<'static>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("origin", &self.origin)
            .field("rules", &self.engine.rules().len())
            .finish()
    }
}

/// A request resolved against a register: the query of its first day and
/// the days it asks about.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The query (of the first day, for a month).
    pub query: Query,
    /// The point, when one was given.
    pub point: Option<LatLon>,
    /// Warnings about the request.
    pub warnings: Vec<String>,
    days: Days,
    at: Option<Point>,
}

impl Snapshot {
    pub(crate) fn new(engine: Engine, origin: SnapshotOrigin, control: ControlSource) -> Self {
        Snapshot {
            engine: Arc::new(engine),
            origin,
            control_source: control,
            control: OnceLock::new(),
            areas: OnceLock::new(),
        }
    }

    /// A snapshot of an engine built elsewhere (a test's, say), with the
    /// bundled control layer.
    pub fn from_engine(engine: Engine, name: &str) -> Self {
        Snapshot::new(
            engine,
            SnapshotOrigin {
                source: "engine",
                name: name.into(),
                txn: None,
            },
            ControlSource::Bundled,
        )
    }

    /// The same register with the control layer of `text` (named `name` in
    /// messages) instead of its own; checked now.
    pub fn with_control(&self, name: &str, text: &str) -> Result<Snapshot> {
        let layer = geo::parse_control(text, name)?;
        let s = Snapshot {
            engine: self.engine.clone(),
            origin: self.origin.clone(),
            control_source: ControlSource::Text {
                name: name.into(),
                text: text.into(),
            },
            control: OnceLock::new(),
            areas: OnceLock::new(),
        };
        let _ = s.control.set(layer);
        Ok(s)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where the snapshot came from.
    pub fn origin(&self) -> &SnapshotOrigin {
        &self.origin
    }

    /// The control layer (parsed on first use).
    pub fn control_layer(&self) -> Result<&ControlLayer> {
        if let Some(l) = self.control.get() {
            return Ok(l);
        }
        let layer = match &self.control_source {
            ControlSource::Bundled => ControlLayer::bundled(geo::boundaries()?)
                .map_err(|e| Error::internal(format!("the bundled control layer: {e}")))?,
            ControlSource::Text { name, text } => geo::parse_control(text, name)?,
        };
        Ok(self.control.get_or_init(|| layer))
    }

    fn named_areas(&self) -> Result<&NamedAreas<'static>> {
        if let Some(a) = self.areas.get() {
            return Ok(a);
        }
        let areas = geo::named_areas(&self.engine)?;
        Ok(self.areas.get_or_init(|| areas))
    }

    /// The facts of `point` on `day` that a query needs: its place, border
    /// distance, controller and named areas.
    pub fn point_facts(&self, point: &Point, day: NaiveDate) -> Result<PointFacts> {
        let p = point.latlon()?;
        self.facts_at(p, day)
            .transpose()
            .unwrap_or_else(|| Err(geo::no_country(point)))
    }

    fn facts_at(&self, p: LatLon, day: NaiveDate) -> Result<Option<PointFacts>> {
        Ok(geo::point_facts(
            &self.engine,
            geo::boundaries()?,
            self.control_layer()?,
            self.named_areas()?,
            p,
            day,
        ))
    }

    fn item(&self, item: &ItemAsk) -> Result<ItemRef> {
        item_of(&self.engine, item)
    }

    fn party(&self, s: &str) -> Result<PartyId> {
        Ok(self.engine.resolve_party(s)?)
    }

    /// Resolves `ask` against this register: names to ids, dates, the
    /// point's facts. `one_day`: why a month is refused, or `None` where a
    /// month is taken.
    pub fn resolve(&self, ask: &Ask, today: NaiveDate) -> Result<Resolved> {
        self.resolve_with(ask, today, None)
    }

    fn resolve_with(&self, ask: &Ask, today: NaiveDate, one_day: Option<&str>) -> Result<Resolved> {
        resolve_ask(
            &self.engine,
            &|p, d| self.facts_at(p, d),
            ask,
            today,
            one_day,
        )
    }

    /// The query of `r` on `day` (the point's facts taken on that day).
    fn query_on(&self, r: &Resolved, day: NaiveDate) -> Result<Query> {
        let mut q = r.query.clone();
        q.as_of = day;
        if let (Some(p), Some(at)) = (r.point, &r.at) {
            self.facts_at(p, day)?
                .ok_or_else(|| geo::no_country(at))?
                .apply(&mut q);
        }
        Ok(q)
    }

    /// Decides a resolved query. The query's names were resolved here, so
    /// an engine that cannot find one of them is at fault, not the input.
    pub fn decide(&self, q: &Query) -> Result<Decision> {
        self.engine.decide(q).map_err(|e| match e {
            RequestError::UnknownParty { id, .. }
            | RequestError::UnknownModel { id, .. }
            | RequestError::UnknownLot { id, .. }
            | RequestError::UnknownPlace { id, .. }
            | RequestError::UnknownAuthority { id, .. } => Error::internal(format!(
                "the engine cannot find `{}`, which this request resolved",
                cut(&id)
            )),
            other => other.into(),
        })
    }

    /// Decides `ask`: a day's decision, or, for a month (`as_of` =
    /// `YYYY-MM`), each day's, answered by the strictest (the decision shown
    /// is that of the first day that gives it).
    pub fn check(&self, ask: &Ask, today: NaiveDate) -> Result<CheckReport> {
        let r = self.resolve_with(ask, today, None)?;
        let (decision, period) = match r.days {
            Days::Day(_) => (self.decide(&r.query)?, None),
            Days::Month(from, to) => {
                let mut decisions: Vec<Decision> = Vec::new();
                let mut day = from;
                while day <= to {
                    decisions.push(self.decide(&self.query_on(&r, day)?)?);
                    day = match day.succ_opt() {
                        Some(d) => d,
                        None => break,
                    };
                }
                let worst = decisions
                    .iter()
                    .map(|d| d.outcome)
                    .max()
                    .unwrap_or(Outcome::Indeterminate);
                let mut days: Vec<Stretch> = Vec::new();
                for d in &decisions {
                    match days.last_mut() {
                        Some(s) if s.outcome == d.outcome => s.to = d.as_of,
                        _ => days.push(Stretch {
                            from: d.as_of,
                            to: d.as_of,
                            outcome: d.outcome,
                        }),
                    }
                }
                let Some(decision) = decisions.into_iter().find(|d| d.outcome == worst) else {
                    return Err(Error::internal("a month without days"));
                };
                (
                    decision,
                    Some(Period {
                        from,
                        to,
                        outcome: worst,
                        days,
                    }),
                )
            }
        };
        Ok(self.check_report(decision, period, r.warnings))
    }

    /// [`Snapshot::check`] with every rule considered, and why it was used
    /// or not.
    pub fn explain(&self, ask: &Ask, today: NaiveDate) -> Result<CheckReport> {
        let mut report = self.check(ask, today)?;
        let q = report.decision.request.clone();
        report.explanation = Some(crate::explain::explain(&self.engine, &q, &report.decision)?);
        Ok(report)
    }

    fn check_report(
        &self,
        decision: Decision,
        period: Option<Period>,
        warnings: Vec<String>,
    ) -> CheckReport {
        let q = &decision.request;
        let mut parties: Vec<PartyId> = vec![q.actor.clone()];
        parties.extend(q.recipient.iter().cloned());
        parties.extend(q.destination.iter().cloned());
        parties.extend(decision.parties.iter().map(|p| p.party.clone()));
        let rule_notes = self.notes_of(
            decision
                .parties
                .iter()
                .flat_map(|p| p.rules.iter())
                .chain(decision.if_disputed.iter().flat_map(|d| d.facts.iter())),
        );
        let names = Names {
            parties: self.names_of(parties.iter()),
            item: self.item_label(&q.item),
            place: q.place.as_ref().map(|p| self.place_label(p)),
        };
        CheckReport {
            decision,
            period,
            warnings,
            rule_notes,
            explanation: None,
            names,
        }
    }

    fn notes_of<'a>(
        &self,
        rules: impl Iterator<Item = &'a enduse_core::RuleRef>,
    ) -> BTreeMap<String, String> {
        rules
            .filter_map(|r| {
                let rule = self.engine.rule(&r.id)?;
                Some((r.id.to_string(), rule.note.clone()?))
            })
            .collect()
    }

    fn names_of<'a>(&self, ids: impl Iterator<Item = &'a PartyId>) -> BTreeMap<PartyId, String> {
        let reg = self.engine.register();
        ids.map(|p| (p.clone(), reg.party_name(p))).collect()
    }

    fn item_label(&self, item: &ItemRef) -> String {
        match item {
            ItemRef::Model(m) => m.to_string(),
            ItemRef::Lot(l) => {
                let model = self
                    .engine
                    .register()
                    .lots
                    .get(l)
                    .map(|x| x.model.to_string())
                    .unwrap_or_default();
                format!("{model} (lot {l})")
            }
        }
    }

    fn place_label(&self, code: &PlaceCode) -> String {
        let reg = self.engine.register();
        let chain = reg.place_chain(code);
        let name = |c: &PlaceCode| {
            reg.places
                .get(c)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| c.to_string())
        };
        match chain.get(1) {
            Some(parent) => format!("{} ({code}, {})", name(code), name(parent)),
            None => format!("{} ({code})", name(code)),
        }
    }

    /// The parties whose conditions bind an item held by an actor.
    pub fn consent_chain(&self, ask: &ChainAsk, today: NaiveDate) -> Result<ChainReport> {
        let actor = self.party(&ask.actor)?;
        let item = self.item(&ask.item)?;
        let as_of = ask::day(
            "as-of",
            ask.as_of.as_deref(),
            today,
            "`consent-chain` answers for one day",
        )?;
        let parties = self.engine.chain(&actor, &item, as_of)?;
        let warnings = future_warning(Days::Day(as_of), today, today);
        let names = Names {
            parties: self.names_of(std::iter::once(&actor).chain(parties.iter().map(|l| &l.party))),
            item: self.item_label(&item),
            place: None,
        };
        Ok(ChainReport {
            actor,
            item,
            as_of,
            parties,
            warnings,
            names,
        })
    }

    /// A party's rules, defaults and decisions of authorities in force on a
    /// day, as publicly known on another.
    pub fn policies(&self, ask: &PoliciesAsk, today: NaiveDate) -> Result<PoliciesReport> {
        let party = self.party(&ask.party)?;
        let as_of = ask::day(
            "as-of",
            ask.as_of.as_deref(),
            today,
            "`policies` answers for one day",
        )?;
        let known_at = ask::day(
            "known-at",
            ask.known_at.as_deref(),
            today,
            "the public record is read as it stood on one day",
        )?;
        check_dates(as_of, known_at, today)?;
        let rules = self.engine.rules_in_force(&party, as_of, known_at);
        let rule_notes = self.notes_of(rules.iter());
        let warnings = future_warning(Days::Day(as_of), today, known_at);
        let names = Names {
            parties: self.names_of(std::iter::once(&party)),
            item: String::new(),
            place: None,
        };
        Ok(PoliciesReport {
            party,
            as_of,
            known_at,
            rules,
            rule_notes,
            warnings,
            names,
        })
    }

    /// Every change of every condition that binds a model.
    pub fn timeline(&self, model: &str) -> Result<TimelineReport> {
        let model = self.engine.resolve_model(model)?;
        let events = enduse_core::timeline(&self.engine, &model)?;
        let names = Names {
            parties: self.names_of(events.iter().map(|e| &e.party)),
            item: model.to_string(),
            place: None,
        };
        Ok(TimelineReport {
            model,
            events,
            names,
        })
    }

    /// Where a point lies on a day: de jure place, controller, border
    /// distance, named areas.
    pub fn locate(&self, ask: &WhereAsk, today: NaiveDate) -> Result<WhereReport> {
        let point = ask.at.latlon()?;
        let b = geo::boundaries()?;
        let loc = b.locate(point).ok_or_else(|| geo::no_country(&ask.at))?;
        let km = b.border_distance_km(point);
        let as_of = ask::day(
            "as-of",
            ask.as_of.as_deref(),
            today,
            "`where` answers for one day",
        )?;
        let control = self.control_layer()?.control(point, as_of, &loc.country);
        let chain = enduse_geo::de_jure_chain(self.engine.register(), &loc);
        let areas = self.named_areas()?.containing(point, &chain, as_of);
        Ok(WhereReport {
            point,
            as_of,
            de_jure: DeJure {
                country: loc.country,
                subdivision: loc.subdivision,
                name: loc.name,
                adm1_code: loc.adm1_code,
            },
            border_distance_km: (km * 10.0).round() / 10.0,
            control,
            areas,
        })
    }

    /// A map of the decision of `ask` (without a place or a point) over the
    /// region: polygons that follow the subdivisions, control areas, named
    /// areas and border-distance bands, each decided once, as SVG and
    /// GeoJSON. `cell` (degrees of latitude) is the resolution of the
    /// fall-back grid, used only where a fact varies within a polygon.
    pub fn map(&self, ask: &Ask, cell: f64, today: NaiveDate) -> Result<MapReport> {
        if !(0.05..=2.0).contains(&cell) {
            return Err(Error::bad_request(
                "enduse::bad_cell",
                format!("--cell `{cell}` must be between 0.05 and 2 degrees"),
                "the cell is the fall-back grid's resolution; 0.05 is the default",
            ));
        }
        if ask.place.is_some() || ask.at.is_some() || ask.border_distance_km.is_some() {
            return Err(Error::bad_request(
                "enduse::usage",
                "a map decides every point of the region: give no place, point or border distance",
                "",
            ));
        }
        let r = self.resolve_with(ask, today, Some("`map` answers for one day"))?;
        crate::map::render(
            self,
            geo::boundaries()?,
            self.control_layer()?,
            self.named_areas()?,
            &r.query,
            cell,
        )
    }
}

/// The message of an ask without an item, in the library's neutral terms
/// (a front end may say it with its own option names).
pub const NO_ITEM: &str = "give a `model` or a `lot`";
/// The message of an ask with both a place and a point.
pub const PLACE_AND_POINT: &str = "give a `place` or a point (`at`), not both";
/// The message of an ask with both a border distance and a point.
pub const DISTANCE_AND_POINT: &str = "give a `border_distance_km` or a point (`at`), not both";

fn item_of(e: &Engine, item: &ItemAsk) -> Result<ItemRef> {
    match (&item.model, &item.lot) {
        (None, None) => Err(Error::bad_request(
            "enduse::no_item",
            NO_ITEM,
            "name the item: a model (`ATACMS`; the register's models are listed) or one lot",
        )),
        (Some(m), None) => Ok(ItemRef::Model(e.resolve_model(m)?)),
        (None, Some(l)) => Ok(ItemRef::Lot(e.resolve_lot(l)?)),
        (Some(m), Some(l)) => {
            let model = e.resolve_model(m)?;
            let lot = e.resolve_lot(l)?;
            let lot_model = e
                .register()
                .lots
                .get(&lot)
                .map(|x| x.model.clone())
                .ok_or_else(|| Error::internal(format!("lot `{lot}` has no model")))?;
            if lot_model != model {
                return Err(RequestError::LotModelMismatch {
                    lot: lot.to_string(),
                    lot_model: lot_model.to_string(),
                    model: model.to_string(),
                }
                .into());
            }
            Ok(ItemRef::Lot(lot))
        }
    }
}

/// A point's facts on a day (`None`: on no land the register knows).
type FactsAt<'a> = &'a dyn Fn(LatLon, NaiveDate) -> Result<Option<PointFacts>>;

/// Resolves `ask` against `engine`: the one place where a request becomes a
/// query, for every front end and every test.
fn resolve_ask(
    e: &Engine,
    facts_at: FactsAt<'_>,
    ask: &Ask,
    today: NaiveDate,
    one_day: Option<&str>,
) -> Result<Resolved> {
    let days = ask::days(
        "as-of",
        ask.as_of.as_deref(),
        today,
        one_day.is_none(),
        one_day.unwrap_or(""),
    )?;
    let known_at = ask::day(
        "known-at",
        ask.known_at.as_deref(),
        today,
        "the public record is read as it stood on one day",
    )?;
    check_dates(days.first(), known_at, today)?;
    let warnings = future_warning(days, today, known_at);
    let actor = e.resolve_party(&ask.actor)?;
    let action = Action::parse(&ask.action).ok_or_else(|| {
        Error::bad_request(
            "enduse::unknown_action",
            format!("unknown action `{}`", cut(&ask.action)),
            "use one of use, deploy, transfer, reexport",
        )
    })?;
    let item = item_of(
        e,
        &ItemAsk {
            model: ask.model.clone(),
            lot: ask.lot.clone(),
        },
    )?;
    if ask.place.is_some() && ask.at.is_some() {
        return Err(Error::bad_request(
            "enduse::usage",
            PLACE_AND_POINT,
            "a point's place is computed from the boundaries",
        ));
    }
    if ask.at.is_some() && ask.border_distance_km.is_some() {
        return Err(Error::bad_request(
            "enduse::usage",
            DISTANCE_AND_POINT,
            "a point's distance to the border is computed",
        ));
    }
    let border_distance_km = ask.border_distance_km.map(distance).transpose()?;
    let recipient = ask
        .recipient
        .as_deref()
        .map(|p| e.resolve_party(p))
        .transpose()?;
    if matches!(action, Action::Transfer | Action::Reexport) && recipient.is_none() {
        return Err(Error::bad_request(
            "enduse::no_recipient",
            format!("`{action}` needs a recipient"),
            "give the `recipient`: the party to whom the item would pass",
        ));
    }
    let statuses = match ask.status.as_deref() {
        None | Some("reported") => StatusFilter::Reported,
        Some("confirmed") => StatusFilter::Confirmed,
        Some(other) => {
            return Err(Error::bad_request(
                "enduse::unknown_status",
                format!("unknown status `{}`", cut(other)),
                "use `reported` (the default) or `confirmed`",
            ))
        }
    };
    let mut query = Query {
        actor,
        action,
        item,
        place: ask
            .place
            .as_deref()
            .map(|p| e.resolve_place(p))
            .transpose()?,
        recipient,
        target_class: ask.target_class.clone(),
        purpose: ask.purpose.clone(),
        destination: ask
            .destination
            .as_deref()
            .map(|p| e.resolve_party(p))
            .transpose()?,
        statuses,
        border_distance_km,
        areas: None,
        controlled_by: None,
        as_of: days.first(),
        known_at,
        approvals: ask
            .approvals
            .iter()
            .map(|x| e.resolve_authority(x))
            .collect::<Result<_, _>>()?,
    };
    let point = ask.at.as_ref().map(Point::latlon).transpose()?;
    if let (Some(p), Some(at)) = (point, &ask.at) {
        facts_at(p, days.first())?
            .ok_or_else(|| geo::no_country(at))?
            .apply(&mut query);
    }
    Ok(Resolved {
        query,
        point,
        warnings,
        days,
        at: ask.at.clone(),
    })
}

/// Resolves `ask` against `engine` into the query of its first day, as
/// [`Snapshot::resolve`] does, with the bundled control layer (for a
/// point). For tests and tools that hold an engine rather than a snapshot.
pub fn resolve_query(engine: &Engine, ask: &Ask, today: NaiveDate) -> Result<Query> {
    let control: OnceLock<ControlLayer> = OnceLock::new();
    let areas: OnceLock<NamedAreas<'static>> = OnceLock::new();
    let facts = |p: LatLon, d: NaiveDate| -> Result<Option<PointFacts>> {
        let b = geo::boundaries()?;
        let c = match control.get() {
            Some(c) => c,
            None => {
                let l = ControlLayer::bundled(b)
                    .map_err(|e| Error::internal(format!("the bundled control layer: {e}")))?;
                control.get_or_init(|| l)
            }
        };
        let a = match areas.get() {
            Some(a) => a,
            None => {
                let x = geo::named_areas(engine)?;
                areas.get_or_init(|| x)
            }
        };
        Ok(geo::point_facts(engine, b, c, a, p, d))
    };
    Ok(resolve_ask(engine, &facts, ask, today, None)?.query)
}

/// The warning for an as-of day after today.
fn future_warning(days: Days, today: NaiveDate, known_at: NaiveDate) -> Vec<String> {
    if days.last() <= today {
        return Vec::new();
    }
    vec![format!(
        "as-of {} is after today ({today}): the answer is what the public record of {known_at} says about that day, and the record may change before then",
        match days {
            Days::Day(d) => d.to_string(),
            Days::Month(a, b) => format!("{a}..{b}"),
        }
    )]
}

/// A border distance as given: 0 or more, finite; rounded up to whole km.
fn distance(km: f64) -> Result<i64> {
    if !km.is_finite() || km < 0.0 {
        return Err(Error::bad_request(
            "enduse::bad_distance",
            format!("border distance `{km}` km is not a distance: give 0 or more"),
            "the distance of the place from the Ukraine-Russia land border, in km (or give a point, `at`, and it is computed)",
        ));
    }
    if km > 40_000.0 {
        return Err(Error::bad_request(
            "enduse::bad_distance",
            format!("border distance `{km}` km is longer than the earth is round"),
            "give the distance in km",
        ));
    }
    Ok(km.ceil() as i64)
}

#[cfg(test)]
mod bundled_image_tests {
    use super::*;

    #[test]
    fn the_bundled_image_matches_the_bundled_files() {
        let files = enduse_load::bundled_files();
        let from_image = enduse_load::engine_for_files(&files, BUNDLED_IMAGE)
            .expect("the build made an image of the bundled files");
        let loaded = enduse_load::load_files(&files).unwrap();
        assert_eq!(
            serde_json::to_string(from_image.register()).unwrap(),
            serde_json::to_string(loaded.register()).unwrap()
        );
        let ids = |e: &Engine| e.rules().iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&from_image), ids(&loaded));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn snapshots_can_be_shared_between_threads() {
        assert_send_sync::<Snapshot>();
        assert_send_sync::<Arc<Snapshot>>();
    }

    #[test]
    fn distances_are_checked_and_rounded_up() {
        assert_eq!(distance(0.0).unwrap(), 0);
        assert_eq!(distance(12.2).unwrap(), 13);
        assert_eq!(distance(30.0).unwrap(), 30);
        assert!(distance(-1.0).is_err());
        assert!(distance(f64::NAN).is_err());
        assert!(distance(1e9).is_err());
    }
}
