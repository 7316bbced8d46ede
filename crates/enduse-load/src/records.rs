//! A data set as a list of records: one per party, place, model, lot,
//! transfer, treaty, conflict, approval, source and rule, plus the data-set
//! header and the Cedar schema. Stores keep every version of every record;
//! this module turns files into records and records back into files or an
//! engine, so that the text files and a database give the same answers.

use crate::files::DataFiles;
use crate::toml_model::{push_json, Raw};
use crate::DataSetError;
use enduse_core::{Engine, Origin, Problem};
use std::collections::BTreeMap;

/// What a record is. Its name (`party`, `policy`) is also its name in
/// stores and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// `dataset.toml`: name and title.
    DataSet,
    /// `schema.cedarschema`, as text.
    Schema,
    /// A `[[source]]`.
    Source,
    /// A `[[party]]`.
    Party,
    /// A `[[place]]`.
    Place,
    /// A `[[category]]`.
    Category,
    /// A `[[model]]`.
    Model,
    /// A `[[lot]]`.
    Lot,
    /// A `[[transfer]]` with its stages.
    Transfer,
    /// A `[[treaty]]` with its membership steps.
    Treaty,
    /// A `[[conflict]]`.
    Conflict,
    /// An `[[approval]]` decision.
    Approval,
    /// A `[[default]]`: what a party's silence means.
    Default,
    /// A `[[group]]` of parties with dated membership.
    Group,
    /// A `[[target]]` class.
    Target,
    /// A `[[purpose]]`.
    Purpose,
    /// A named `[[area]]`.
    Area,
    /// One Cedar rule, with its owner.
    Policy,
    /// One area of the control layer (`control.json`): who controls it when.
    Control,
}

/// (kind, TOML array name, file, key field)
const TOML_KINDS: &[(RecordKind, &str, &str, &str)] = &[
    (RecordKind::Source, "source", "sources.toml", "id"),
    (RecordKind::Party, "party", "parties.toml", "id"),
    (RecordKind::Place, "place", "places.toml", "code"),
    (RecordKind::Category, "category", "models.toml", "id"),
    (RecordKind::Model, "model", "models.toml", "id"),
    (RecordKind::Lot, "lot", "transfers.toml", "id"),
    (RecordKind::Transfer, "transfer", "transfers.toml", "id"),
    (RecordKind::Treaty, "treaty", "treaties.toml", "id"),
    (RecordKind::Conflict, "conflict", "conflicts.toml", "id"),
    (RecordKind::Approval, "approval", "approvals.toml", "id"),
    (RecordKind::Default, "default", "defaults.toml", "id"),
    (RecordKind::Group, "group", "groups.toml", "id"),
    (RecordKind::Target, "target", "targets.toml", "id"),
    (RecordKind::Purpose, "purpose", "targets.toml", "id"),
    (RecordKind::Area, "area", "areas.toml", "id"),
];

impl RecordKind {
    /// Every kind, in load order.
    pub const ALL: [RecordKind; 19] = [
        Self::DataSet,
        Self::Schema,
        Self::Source,
        Self::Party,
        Self::Place,
        Self::Category,
        Self::Model,
        Self::Lot,
        Self::Transfer,
        Self::Treaty,
        Self::Conflict,
        Self::Approval,
        Self::Default,
        Self::Group,
        Self::Target,
        Self::Purpose,
        Self::Area,
        Self::Policy,
        Self::Control,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataSet => "dataset",
            Self::Schema => "schema",
            Self::Policy => "policy",
            Self::Control => "control",
            k => TOML_KINDS
                .iter()
                .find(|(x, ..)| *x == k)
                .map_or("unknown", |(_, n, ..)| n),
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fact of a data set, as stored: its content and the times it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it is.
    pub kind: RecordKind,
    /// Its id (a place's code, a rule's `@id`; `dataset` and `schema` for
    /// the two singletons).
    pub key: String,
    /// Content: canonical JSON of the TOML table (sorted keys), the schema's
    /// text, or for a rule `{"owner": .., "cedar": ..}`.
    pub body: String,
    /// Valid time: when the fact starts to hold (as written, possibly a range).
    pub valid_from: Option<String>,
    /// Valid time: when it stops holding.
    pub valid_to: Option<String>,
    /// Public-knowledge time: when it became known.
    pub recorded_at: Option<String>,
    /// For lots and transfers: the lot, so a store can index a lot's chain.
    pub lot: Option<String>,
}

impl Record {
    /// A digest of what a store compares to tell whether a record changed:
    /// its body and its times (not its kind and key, which locate it).
    /// Lets an import compare a data set with the stored heads without
    /// holding either.
    pub fn digest(&self) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut part = |s: Option<&str>| match s {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        };
        part(Some(&self.body));
        part(self.valid_from.as_deref());
        part(self.valid_to.as_deref());
        part(self.recorded_at.as_deref());
        part(self.lot.as_deref());
        let full = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PolicyBody {
    owner: String,
    cedar: String,
    /// What the Cedar parser read when the rule was stored; lets a trusted
    /// load skip the parser (absent in bodies written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<enduse_core::RuleHeader>,
}

pub(crate) fn str_field(v: &serde_json::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_owned)
}

pub(crate) fn record_of(kind: RecordKind, key: String, body: &serde_json::Value) -> Record {
    let mut r = Record {
        kind,
        key,
        body: body.to_string(),
        valid_from: None,
        valid_to: None,
        recorded_at: None,
        lot: None,
    };
    match kind {
        RecordKind::Source => r.recorded_at = str_field(body, "date"),
        RecordKind::Lot => r.lot = Some(r.key.clone()),
        RecordKind::Transfer => {
            r.lot = str_field(body, "lot");
            r.valid_from = body
                .get("stages")
                .and_then(|s| s.get(0))
                .and_then(|s| str_field(s, "date"));
        }
        RecordKind::Treaty => {
            r.valid_from = body
                .get("steps")
                .and_then(|s| s.get(0))
                .and_then(|s| str_field(s, "date"));
        }
        RecordKind::Conflict => {
            r.valid_from = str_field(body, "from");
            r.valid_to = str_field(body, "to");
        }
        RecordKind::Approval => {
            r.valid_from = str_field(body, "valid_from").or_else(|| str_field(body, "date"));
            r.valid_to = str_field(body, "valid_to");
            r.recorded_at = str_field(body, "public").or_else(|| str_field(body, "date"));
        }
        RecordKind::Area => {
            r.valid_from = str_field(body, "valid_from");
            r.valid_to = str_field(body, "valid_to");
        }
        RecordKind::Default => {
            r.valid_from = str_field(body, "valid_from");
            r.valid_to = str_field(body, "valid_to");
            r.recorded_at = str_field(body, "recorded_at");
        }
        RecordKind::Control => {
            r.valid_from = str_field(body, "valid_from");
            r.valid_to = str_field(body, "valid_to");
        }
        _ => {}
    }
    r
}

/// The areas of a control layer (`{"areas": [...]}`) as records, keyed by
/// `id`. Only the shape is checked here; `enduse-geo` checks the content.
pub fn control_records(text: &str) -> Result<Vec<Record>, String> {
    let mut v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("`{CONTROL}`: {e}", CONTROL = crate::CONTROL_FILE))?;
    sort_keys(&mut v);
    let areas = v
        .get_mut("areas")
        .and_then(|a| a.as_array_mut())
        .ok_or_else(|| format!("`{}` has no `areas` list", crate::CONTROL_FILE))?;
    let mut out = Vec::with_capacity(areas.len());
    for (i, a) in areas.iter().enumerate() {
        let key = str_field(a, "id")
            .ok_or_else(|| format!("`{}`: area {i} has no `id`", crate::CONTROL_FILE))?;
        if out.iter().any(|r: &Record| r.key == key) {
            return Err(format!(
                "`{}`: area `{key}` appears twice",
                crate::CONTROL_FILE
            ));
        }
        out.push(record_of(RecordKind::Control, key, a));
    }
    Ok(out)
}

/// The control layer (`{"areas": [...]}`, by id) of `records`, if they hold
/// any area.
pub fn control_json(records: &[&Record]) -> Option<String> {
    let mut areas: Vec<(&str, serde_json::Value)> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Control)
        .filter_map(|r| Some((r.key.as_str(), serde_json::from_str(&r.body).ok()?)))
        .collect();
    if areas.is_empty() {
        return None;
    }
    areas.sort_by(|a, b| a.0.cmp(b.0));
    let list: Vec<serde_json::Value> = areas.into_iter().map(|(_, v)| v).collect();
    serde_json::to_string_pretty(&serde_json::json!({ "areas": list })).ok()
}

/// The first day a date as written can mean (`2023-01-16..2023-01-20` →
/// `2023-01-16`, `2025` → `2025`): ISO dates order as text.
pub(crate) fn start_of(d: &str) -> &str {
    d.split("..").next().unwrap_or(d)
}

fn earliest<'a>(dates: impl Iterator<Item = &'a str>) -> Option<String> {
    dates
        .min_by(|a, b| start_of(a).cmp(start_of(b)))
        .map(str::to_owned)
}

/// When the fact of a transfer's or model's body `v` became known: the
/// earliest date of the sources it and its stages cite.
pub(crate) fn known_in(
    v: &serde_json::Value,
    source_date: &std::collections::HashMap<String, String>,
) -> Option<String> {
    let mut ids: Vec<&str> = v
        .get("sources")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    for st in v
        .get("stages")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        ids.extend(st.get("source").and_then(|s| s.as_str()));
    }
    earliest(
        ids.iter()
            .filter_map(|i| source_date.get(*i).map(String::as_str)),
    )
}

/// Fills in the times a record does not carry itself but its register
/// implies, for the records of `targets`; `others` are the rest of the
/// register (the targets may be all of it, and `others` empty):
/// - a transfer became known with the earliest source it or its stages cite;
/// - a model with the earliest source it cites;
/// - a lot held from its first transfer and became known with it.
pub fn derive_times(targets: &mut [Record], others: &[&Record]) {
    let mut source_date: std::collections::HashMap<String, String> = Default::default();
    for r in targets
        .iter()
        .chain(others.iter().copied())
        .filter(|r| r.kind == RecordKind::Source)
    {
        if let Some(d) = &r.recorded_at {
            source_date.insert(r.key.clone(), d.clone());
        }
    }
    let known = |body: &str| -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        known_in(&v, &source_date)
    };
    for t in targets.iter_mut() {
        if matches!(t.kind, RecordKind::Transfer | RecordKind::Model) {
            t.recorded_at = known(&t.body);
        }
    }
    if !targets.iter().any(|t| t.kind == RecordKind::Lot) {
        return;
    }
    // The earliest (valid_from, recorded_at) of the transfers of each lot,
    // kept as they are met, borrowing the transfers' own strings: a list of
    // every transfer's times, by lot, cost hundreds of MB at a million
    // transfers. A date replaces the one kept only if it starts strictly
    // earlier, so that ties keep the first met, as `earliest` does.
    fn keep<'a>(kept: &mut Option<&'a str>, d: Option<&'a str>) {
        if let Some(d) = d {
            if kept.is_none_or(|k| start_of(d) < start_of(k)) {
                *kept = Some(d);
            }
        }
    }
    let others_known: Vec<(&str, Option<&str>, Option<String>)> = others
        .iter()
        .filter(|r| r.kind == RecordKind::Transfer)
        .filter_map(|t| Some((t.lot.as_deref()?, t.valid_from.as_deref(), known(&t.body))))
        .collect();
    let firsts: Vec<(usize, Option<String>, Option<String>)> = {
        type Firsts<'a> = (Option<&'a str>, Option<&'a str>);
        let mut by_lot: std::collections::HashMap<&str, Firsts<'_>> = Default::default();
        for t in targets.iter().filter(|r| r.kind == RecordKind::Transfer) {
            if let Some(lot) = &t.lot {
                let e = by_lot.entry(lot.as_str()).or_default();
                keep(&mut e.0, t.valid_from.as_deref());
                keep(&mut e.1, t.recorded_at.as_deref());
            }
        }
        for (lot, valid_from, recorded_at) in &others_known {
            let e = by_lot.entry(lot).or_default();
            keep(&mut e.0, *valid_from);
            keep(&mut e.1, recorded_at.as_deref());
        }
        targets
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == RecordKind::Lot)
            .map(|(i, r)| {
                let (v, k) = by_lot.get(r.key.as_str()).copied().unwrap_or_default();
                (i, v.map(str::to_owned), k.map(str::to_owned))
            })
            .collect()
    };
    drop(others_known);
    for (i, valid_from, recorded_at) in firsts {
        if let Some(t) = targets.get_mut(i) {
            t.valid_from = valid_from;
            t.recorded_at = recorded_at;
        }
    }
}

/// Files the loader requires.
const REQUIRED: &[&str] = &[
    "dataset.toml",
    "sources.toml",
    "parties.toml",
    "places.toml",
    "models.toml",
];

/// [`records_from_files`] parsing each TOML file once (the loader and the
/// split would each parse it: at a million transfers that was most of an
/// import). `None` when anything is off, so that the caller falls back to
/// the loader, whose problems carry lines.
fn records_in_one_pass(files: &DataFiles) -> Option<Result<(Engine, Vec<Record>), DataSetError>> {
    // The Cedar files parse on a second core while the TOML files parse here.
    std::thread::scope(|s| {
        let rules = s.spawn(|| crate::parse_policy_files(files));
        let split = split_toml(files);
        let rules = rules.join().ok()?.ok()?;
        let (raw, mut out) = split?;
        Some(
            crate::build(
                files,
                raw,
                Vec::new(),
                enduse_core::Checks::Full,
                Some(rules),
            )
            .map(|engine| {
                out.reserve_exact(engine.rules().len());
                for r in engine.rules() {
                    let text = files.get(&r.file).unwrap_or_default();
                    let cedar = text.get(r.span.clone()).unwrap_or_default().to_owned();
                    out.push(policy_record(r, cedar));
                }
                (engine, out)
            }),
        )
    })
}

/// The TOML files as records and as the loader's raw register, or `None`
/// if anything is off.
fn split_toml(files: &DataFiles) -> Option<(Raw, Vec<Record>)> {
    split_toml_except(files, None)
}

/// [`split_toml`] of every TOML file but `skip`.
pub(crate) fn split_toml_except(
    files: &DataFiles,
    skip: Option<&str>,
) -> Option<(Raw, Vec<Record>)> {
    let mut out = Vec::new();
    let mut raw = Raw::default();
    if REQUIRED.iter().any(|f| files.get(f).is_none()) {
        return None;
    }
    // Straight into JSON values, without an intermediate TOML tree.
    let mut v: serde_json::Value = toml::from_str(files.get("dataset.toml")?).ok()?;
    sort_keys(&mut v);
    if !v.is_object() {
        return None;
    }
    push_json(&mut raw, "dataset", &v.to_string()).ok()?;
    out.push(record_of(RecordKind::DataSet, "dataset".into(), &v));
    if let Some(text) = files.get("schema.cedarschema") {
        out.push(schema_record(text));
    }
    let mut lists: Vec<Vec<Record>> = Vec::new();
    for file in toml_files() {
        if skip == Some(file) {
            continue;
        }
        let Some(text) = files.get(file) else {
            continue;
        };
        let kinds: Vec<_> = TOML_KINDS
            .iter()
            .filter(|(_, _, f, _)| *f == file)
            .collect();
        // One list per kind, so that the records keep the order of a
        // whole-file parse (every kind of a file in turn, each in file order).
        let mut by_kind: Vec<Vec<Record>> = kinds.iter().map(|_| Vec::new()).collect();
        for_each_table(text, &mut |name, json| {
            let i = kinds.iter().position(|(_, n, ..)| *n == name)?;
            let (kind, _, _, key_field) = kinds.get(i)?;
            let body = json.to_string();
            push_json(&mut raw, name, &body).ok()?;
            let key = str_field(&json, key_field)?;
            by_kind.get_mut(i)?.push(record_of(*kind, key, &json));
            Some(())
        })?;
        lists.extend(by_kind);
    }
    // Exact sizes: at 1.6 million records a doubled vector holds 80 MB of
    // nothing. Room for the rules' records, which follow.
    let rules = files
        .policy_files()
        .map(|(_, t)| t.matches("@id(").count())
        .sum::<usize>();
    out.reserve_exact(lists.iter().map(Vec::len).sum::<usize>() + rules);
    for mut list in lists {
        out.append(&mut list);
    }
    Some((raw, out))
}

/// Calls `each(name, table)` for every `[[name]]` table of a TOML file that
/// holds arrays of tables only, in file order, with keys sorted; `None` if
/// the file holds anything else, does not parse, or `each` says `None`.
///
/// Why not parse the whole file: a whole-file parse holds the document
/// tree of every table at once, which for a million transfers is many
/// times the file. Each table is parsed on its own instead, from the line
/// of its `[[name]]` header to the next such line, so that only one table
/// is ever held. This reads exactly what a whole-file parse reads, or gives
/// up: a cut that falls anywhere but between two tables (a `[[` opening a
/// line inside a multi-line string or array, a sub-table `[[a.b]]`, a plain
/// `[a]` table) leaves a piece that does not parse, or parses to something
/// other than one single-table array, and then the caller falls back to
/// the loader, whose errors name file and line.
fn for_each_table(
    text: &str,
    each: &mut dyn FnMut(&str, serde_json::Value) -> Option<()>,
) -> Option<()> {
    for_each_table_read(&mut text.as_bytes(), each)
}

/// [`for_each_table`] of a file read a line at a time, so that only the
/// table being parsed is ever held, never the file.
pub(crate) fn for_each_table_read(
    reader: &mut dyn std::io::BufRead,
    each: &mut dyn FnMut(&str, serde_json::Value) -> Option<()>,
) -> Option<()> {
    let mut piece = |chunk: &str, first: bool| -> Option<()> {
        let v: serde_json::Value = toml::from_str(chunk).ok()?;
        let serde_json::Value::Object(m) = v else {
            return None;
        };
        if first {
            // What precedes the first header: blank lines and comments only.
            return m.is_empty().then_some(());
        }
        let mut it = m.into_iter();
        let (name, items) = it.next()?;
        if it.next().is_some() {
            return None;
        }
        let serde_json::Value::Array(items) = items else {
            return None;
        };
        let [mut table] = <[serde_json::Value; 1]>::try_from(items).ok()?;
        if !table.is_object() {
            return None;
        }
        sort_keys(&mut table);
        each(&name, table)
    };
    let mut chunk = String::new();
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            break;
        }
        if line.trim_start_matches([' ', '\t']).starts_with("[[") {
            piece(&chunk, first)?;
            first = false;
            chunk.clear();
        }
        chunk.push_str(&line);
    }
    piece(&chunk, first)
}

/// [`for_each_table_read`] with the reading and parsing on another thread
/// (one core), while `each` runs here (the other) on the tables, in file
/// order. For the one large file of a data set.
pub(crate) fn for_each_table_aside(
    reader: &mut (dyn std::io::BufRead + Send),
    each: &mut dyn FnMut(&str, serde_json::Value) -> Option<()>,
) -> Option<()> {
    const BATCH: usize = 256;
    type Batch = Vec<(String, serde_json::Value)>;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
        let parser = s.spawn(move || {
            let mut batch: Batch = Vec::with_capacity(BATCH);
            let read = for_each_table_read(reader, &mut |name, v| {
                batch.push((name.to_owned(), v));
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send(full).ok()?;
                }
                Some(())
            });
            if read.is_some() && !batch.is_empty() {
                tx.send(batch).ok()?;
            }
            read
        });
        let mut done = Some(());
        'batches: for batch in rx.iter() {
            for (name, v) in batch {
                if each(&name, v).is_none() {
                    done = None;
                    break 'batches;
                }
            }
        }
        // Hang up first, so that a parser blocked on a full channel stops.
        drop(rx);
        let read = parser.join().ok().flatten();
        done.and(read)
    })
}

/// Sorts the keys of every object, so that bodies are canonical whatever
/// order the file gave (serde_json keeps insertion order here, as
/// cedar-policy turns on its `preserve_order`).
fn sort_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// A record for every rule of `engine`, with its verbatim text from `files`.
fn push_policy_records(engine: &Engine, files: &DataFiles, out: &mut Vec<Record>) {
    for r in engine.rules() {
        let text = files.get(&r.file).unwrap_or_default();
        let cedar = text.get(r.span.clone()).unwrap_or_default().to_owned();
        out.push(policy_record(r, cedar));
    }
}

/// The record of a rule whose text is `cedar`.
pub(crate) fn policy_record(r: &enduse_core::Rule, cedar: String) -> Record {
    let ann = |k: &str| r.header.annotation(k).map(str::to_owned);
    let body = PolicyBody {
        owner: r.owner.to_string(),
        cedar,
        header: Some(r.header.clone()),
    };
    Record {
        kind: RecordKind::Policy,
        key: r.id.to_string(),
        body: serde_json::to_string(&body).unwrap_or_default(),
        valid_from: ann("valid_from"),
        valid_to: ann("valid_to"),
        recorded_at: ann("recorded_at"),
        lot: None,
    }
}

/// The schema's record: its text, as the single `schema`.
fn schema_record(text: &str) -> Record {
    Record {
        kind: RecordKind::Schema,
        key: "schema".into(),
        body: text.to_owned(),
        valid_from: None,
        valid_to: None,
        recorded_at: None,
        lot: None,
    }
}

/// The TOML files that hold records, each once, in load order.
fn toml_files() -> Vec<&'static str> {
    let mut names: Vec<&str> = TOML_KINDS.iter().map(|(_, _, f, _)| *f).collect();
    names.dedup();
    names
}

fn bad_toml(file: &str, e: &toml::de::Error) -> Problem {
    Problem::new(
        Origin::File {
            file: file.to_owned(),
            span: e.span(),
        },
        format!("invalid toml: {}", e.message().trim_end().to_lowercase()),
    )
}

/// Validates the whole data set, then splits it into records. Nothing is
/// returned unless every file is valid, so a store never receives half a
/// data set.
pub fn records_from_files(files: &DataFiles) -> Result<(Engine, Vec<Record>), DataSetError> {
    let control = files.get(crate::CONTROL_FILE).map(control_records);
    let control_problem = |e: &str| {
        Problem::new(
            Origin::File {
                file: crate::CONTROL_FILE.into(),
                span: None,
            },
            e.to_owned(),
        )
    };
    let loaded = match records_in_one_pass(files) {
        Some(done) => done,
        // Something is off: load the slow way, which locates every problem.
        None => records_via_loader(files),
    };
    // Every problem in one run: those of the control layer with the rest.
    let (engine, mut records) = match (loaded, &control) {
        (Ok(done), Some(Err(e))) => {
            drop(done);
            return Err(DataSetError::from_problems(files, vec![control_problem(e)]));
        }
        (Err(err), Some(Err(e))) => {
            return Err(err.with_more(files, vec![control_problem(e)]));
        }
        (loaded, _) => loaded?,
    };
    let control = match control {
        Some(Ok(c)) => c,
        _ => Vec::new(),
    };
    records.reserve_exact(control.len());
    records.extend(control);
    derive_times(&mut records, &[]);
    Ok((engine, records))
}

fn records_via_loader(files: &DataFiles) -> Result<(Engine, Vec<Record>), DataSetError> {
    let engine = crate::load_files(files)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let to_json = |v: &toml::Value| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
    if let Some(text) = files.get("dataset.toml") {
        match toml::from_str::<toml::Table>(text) {
            Ok(t) => out.push(record_of(
                RecordKind::DataSet,
                "dataset".into(),
                &to_json(&toml::Value::Table(t)),
            )),
            Err(e) => problems.push(bad_toml("dataset.toml", &e)),
        }
    }
    if let Some(text) = files.get("schema.cedarschema") {
        out.push(schema_record(text));
    }
    for file in toml_files() {
        let Some(text) = files.get(file) else {
            continue;
        };
        let table = match toml::from_str::<toml::Table>(text) {
            Ok(t) => t,
            Err(e) => {
                problems.push(bad_toml(file, &e));
                continue;
            }
        };
        for (kind, name, _, key_field) in TOML_KINDS.iter().filter(|(_, _, f, _)| *f == file) {
            let items = table.get(*name).and_then(|v| v.as_array());
            for item in items.into_iter().flatten() {
                let json = to_json(item);
                let key = str_field(&json, key_field).unwrap_or_default();
                out.push(record_of(*kind, key, &json));
            }
        }
    }
    push_policy_records(&engine, files, &mut out);
    if !problems.is_empty() {
        return Err(DataSetError::from_problems(files, problems));
    }
    Ok((engine, out))
}

/// A stored rule placed in a generated policy file.
struct Placed {
    owner: String,
    file: String,
    span: std::ops::Range<usize>,
    header: Option<enduse_core::RuleHeader>,
}

/// The schema and policy files of `records` (policies grouped by owner and
/// ordered by id), where each rule landed, and problems for unreadable
/// policy bodies.
fn cedar_files(
    origin: &str,
    records: &[&Record],
    problems: &mut Vec<Problem>,
) -> (BTreeMap<String, String>, Vec<Placed>) {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut policies: Vec<(PolicyBody, &str)> = Vec::new();
    for r in records {
        match r.kind {
            RecordKind::Schema => {
                files.insert("schema.cedarschema".into(), r.body.clone());
            }
            RecordKind::Policy => match serde_json::from_str::<PolicyBody>(&r.body) {
                Ok(b) => policies.push((b, &r.key)),
                Err(e) => problems.push(stored_problem(origin, r, &e.to_string())),
            },
            _ => {}
        }
    }
    // Sort positions, not the bodies: moving 100,000 bodies cost more than
    // the sort.
    let mut order: Vec<usize> = (0..policies.len()).collect();
    order.sort_by(|&a, &b| {
        (&policies[a].0.owner, policies[a].1).cmp(&(&policies[b].0.owner, policies[b].1))
    });
    let mut slots: Vec<Option<PolicyBody>> = policies.into_iter().map(|(b, _)| Some(b)).collect();
    let mut placed = Vec::with_capacity(order.len());
    for b in order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
    {
        let file = format!("policies/{}.cedar", b.owner);
        let text = files.entry(file.clone()).or_default();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let start = text.len();
        text.push_str(b.cedar.trim_end());
        let end = text.len();
        text.push('\n');
        placed.push(Placed {
            owner: b.owner,
            file,
            span: start..end,
            header: b.header,
        });
    }
    (files, placed)
}

fn stored_problem(origin: &str, r: &Record, msg: &str) -> Problem {
    Problem::new(
        Origin::File {
            file: format!("{origin}: {} `{}`", r.kind, r.key),
            span: None,
        },
        format!("stored record cannot be read: {msg}"),
    )
}

/// Builds an engine from records (the current or an earlier state of a
/// store). TOML records are read straight from their JSON, without a detour
/// through TOML text.
pub fn engine_from_records(origin: &str, records: &[&Record]) -> Result<Engine, DataSetError> {
    engine_with_checks(origin, records, enduse_core::Checks::Full)
}

/// [`engine_from_records`] for records a store accepted, each write having
/// validated the whole register: skips the checks that cost most at scale
/// (references, and the rules against the schema in strict mode).
pub fn engine_from_trusted_records(
    origin: &str,
    records: &[&Record],
) -> Result<Engine, DataSetError> {
    engine_with_checks(origin, records, enduse_core::Checks::Trusted)
}

fn engine_with_checks(
    origin: &str,
    records: &[&Record],
    checks: enduse_core::Checks,
) -> Result<Engine, DataSetError> {
    let (files, rules, raw, problems) = split_records(origin, records, checks)?;
    crate::build(&files, raw, problems, checks, rules)
}

/// The register of trusted `records` (in the order a store returns heads)
/// and its rules built from their stored headers, as [`engine_from_trusted_records`]
/// would hand them to the engine; `None` for rules stored without a header
/// (written before headers were kept), which need the Cedar parser.
pub(crate) fn trusted_parts(
    origin: &str,
    records: &[&Record],
) -> Result<Option<(enduse_core::Register, Vec<enduse_core::Rule>, String)>, DataSetError> {
    let (files, rules, raw, mut problems) =
        split_records(origin, records, enduse_core::Checks::Trusted)?;
    let register = crate::toml_model::convert(raw, &mut problems);
    if !problems.is_empty() {
        return Err(DataSetError::from_problems(&files, problems));
    }
    let (Some(rules), Some(schema)) = (rules, files.get("schema.cedarschema")) else {
        return Ok(None);
    };
    Ok(Some((register, rules, schema.to_owned())))
}

type Split = (DataFiles, Option<Vec<enduse_core::Rule>>, Raw, Vec<Problem>);

fn split_records(
    origin: &str,
    records: &[&Record],
    checks: enduse_core::Checks,
) -> Result<Split, DataSetError> {
    // Rules on a second core, the register on this one. Trusted records
    // carry their rules' headers: build the rules from them and leave the
    // Cedar parsing to the first decision that needs each.
    let (rule_side, raw, mut problems) = std::thread::scope(|s| {
        let rule_side = s.spawn(|| {
            let mut problems = Vec::new();
            let (files, placed) = cedar_files(origin, records, &mut problems);
            let files = DataFiles::from_map(origin, files);
            let trusted =
                checks == enduse_core::Checks::Trusted && placed.iter().all(|p| p.header.is_some());
            if !trusted {
                return (files, None, problems);
            }
            let mut rules = Vec::with_capacity(placed.len());
            for p in placed {
                let Some(header) = p.header else {
                    continue;
                };
                match enduse_core::rule_from_header(
                    &enduse_core::PartyId::new(&p.owner),
                    &p.file,
                    files.get(&p.file).unwrap_or_default(),
                    p.span,
                    header,
                ) {
                    Ok(r) => rules.push(r),
                    Err(mut e) => problems.append(&mut e),
                }
            }
            (files, Some(rules), problems)
        });
        let mut problems = Vec::new();
        let mut raw = Raw::default();
        for r in records {
            if matches!(
                r.kind,
                RecordKind::Schema | RecordKind::Policy | RecordKind::Control
            ) {
                continue;
            }
            if let Err(e) = push_json(&mut raw, r.kind.as_str(), &r.body) {
                problems.push(stored_problem(origin, r, &e));
            }
        }
        (rule_side.join(), raw, problems)
    });
    let Ok((files, rules, mut rule_problems)) = rule_side else {
        let files = DataFiles::from_map(origin, BTreeMap::new());
        problems.push(Problem::new(
            Origin::File {
                file: origin.to_owned(),
                span: None,
            },
            "internal: reading the rules failed".into(),
        ));
        return Err(DataSetError::from_problems(&files, problems));
    };
    problems.append(&mut rule_problems);
    Ok((files, rules, raw, problems))
}

/// Writes records back as data-set files: the inverse of
/// [`records_from_files`] up to comments, formatting and order.
pub fn files_from_records(origin: &str, records: &[&Record]) -> Result<DataFiles, DataSetError> {
    let mut problems = Vec::new();
    let (mut files, _) = cedar_files(origin, records, &mut problems);
    // Items by TOML array name; the name also fixes the file.
    let mut tables: BTreeMap<&str, Vec<(&str, toml::Value)>> = BTreeMap::new();
    for r in records {
        match r.kind {
            RecordKind::Schema | RecordKind::Policy | RecordKind::Control => {}
            RecordKind::DataSet => match serde_json::from_str::<toml::Table>(&r.body) {
                Ok(t) => {
                    files.insert(
                        "dataset.toml".into(),
                        toml::to_string(&t).unwrap_or_default(),
                    );
                }
                Err(e) => problems.push(stored_problem(origin, r, &e.to_string())),
            },
            kind => {
                let Some((_, name, _, _)) = TOML_KINDS.iter().find(|(k, ..)| *k == kind) else {
                    continue;
                };
                match serde_json::from_str::<toml::Value>(&r.body) {
                    Ok(v) => tables.entry(name).or_default().push((&r.key, v)),
                    Err(e) => problems.push(stored_problem(origin, r, &e.to_string())),
                }
            }
        }
    }
    for file in toml_files() {
        let mut text = String::new();
        // Kinds within a file in TOML_KINDS order (categories before models,
        // lots before transfers), items by key.
        for (_, name, f, _) in TOML_KINDS {
            if *f != file {
                continue;
            }
            let Some(items) = tables.get_mut(name) else {
                continue;
            };
            items.sort_by(|a, b| a.0.cmp(b.0));
            for (_, v) in items.iter() {
                let mut t = toml::Table::new();
                t.insert((*name).to_owned(), toml::Value::Array(vec![v.clone()]));
                match toml::to_string(&t) {
                    Ok(s) => {
                        text.push_str(&s);
                        text.push('\n');
                    }
                    Err(e) => problems.push(Problem::new(
                        Origin::File {
                            file: file.to_string(),
                            span: None,
                        },
                        format!("cannot write toml: {e}"),
                    )),
                }
            }
        }
        if !text.is_empty() {
            files.insert(file.to_string(), text);
        }
    }
    if let Some(c) = control_json(records) {
        files.insert(crate::CONTROL_FILE.into(), c);
    }
    let files = DataFiles::from_map(origin, files);
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(DataSetError::from_problems(&files, problems))
    }
}

/// Checks that a record's key is the one its body gives (a party's `id`, a
/// place's `code`, a rule's `@id`), so that a store never files a fact
/// under a name an export would not reproduce.
pub fn check_key(r: &Record) -> Result<(), String> {
    let from_body = match r.kind {
        RecordKind::DataSet => Some("dataset".to_owned()),
        RecordKind::Schema => Some("schema".to_owned()),
        RecordKind::Control => serde_json::from_str::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| str_field(&v, "id")),
        RecordKind::Policy => serde_json::from_str::<PolicyBody>(&r.body)
            .ok()
            .and_then(|b| b.header)
            .and_then(|h| h.annotation("id").map(str::to_owned)),
        kind => TOML_KINDS
            .iter()
            .find(|(k, ..)| *k == kind)
            .and_then(|(_, _, _, field)| {
                serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| str_field(&v, field))
            }),
    };
    match from_body {
        Some(k) if k == r.key => Ok(()),
        Some(k) => Err(format!(
            "{} `{}` has `{k}` as its id in its body; the key must be the id",
            r.kind, r.key
        )),
        None => Err(format!(
            "{} `{}` has no readable id in its body",
            r.kind, r.key
        )),
    }
}

/// Reads one record of `kind` from `text`, as a user gives it to
/// `enduse put`: a TOML table of the item's fields (or a one-item
/// `[[party]]` array), the schema's text, or one Cedar rule owned by
/// `owner`. `file` names the input in messages. Only the record itself is
/// checked here; the store then validates the register with it.
pub fn record_from_text(
    kind: RecordKind,
    file: &str,
    text: &str,
    owner: Option<&str>,
) -> Result<Record, DataSetError> {
    let files = DataFiles::from_map(file, BTreeMap::from([(file.to_owned(), text.to_owned())]));
    let fail = |msg: String| {
        DataSetError::from_problems(
            &files,
            vec![Problem::new(
                Origin::File {
                    file: file.to_owned(),
                    span: None,
                },
                msg,
            )],
        )
    };
    match kind {
        RecordKind::Schema => Ok(schema_record(text)),
        RecordKind::Policy => {
            let Some(owner) = owner else {
                return Err(fail("a new rule needs an owner: give --owner PARTY".into()));
            };
            let rules = enduse_core::parse_rules(&enduse_core::PartyId::new(owner), file, text)
                .map_err(|p| DataSetError::from_problems(&files, p))?;
            let [r] = rules.as_slice() else {
                return Err(fail(format!(
                    "expected exactly one rule, found {}",
                    rules.len()
                )));
            };
            let cedar = text.get(r.span.clone()).unwrap_or(text).to_owned();
            Ok(policy_record(r, cedar))
        }
        RecordKind::Control => {
            // One area, as in the `areas` list of `control.json`.
            let mut v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| fail(format!("invalid json: {e}")))?;
            sort_keys(&mut v);
            let Some(key) = str_field(&v, "id") else {
                return Err(fail("a control area needs an `id` (a string)".into()));
            };
            Ok(record_of(kind, key, &v))
        }
        RecordKind::DataSet => {
            let t = toml::from_str::<toml::Table>(text)
                .map_err(|e| DataSetError::from_problems(&files, vec![bad_toml(file, &e)]))?;
            let json =
                serde_json::to_value(toml::Value::Table(t)).map_err(|e| fail(e.to_string()))?;
            Ok(record_of(kind, "dataset".into(), &json))
        }
        kind => {
            let Some((_, name, _, key_field)) = TOML_KINDS.iter().find(|(k, ..)| *k == kind) else {
                return Err(fail(format!("`{kind}` records cannot be written")));
            };
            let mut t = toml::from_str::<toml::Table>(text)
                .map_err(|e| DataSetError::from_problems(&files, vec![bad_toml(file, &e)]))?;
            // Accept the form of the data-set files too: one `[[party]]`.
            let item = match t.remove(*name) {
                Some(toml::Value::Array(mut a)) if a.len() == 1 && t.is_empty() => a.remove(0),
                Some(toml::Value::Array(a)) => {
                    return Err(fail(format!(
                        "expected one `[[{name}]]`, found {}",
                        a.len()
                    )))
                }
                Some(v) => {
                    t.insert((*name).to_owned(), v);
                    toml::Value::Table(t)
                }
                None => toml::Value::Table(t),
            };
            let json = serde_json::to_value(&item).map_err(|e| fail(e.to_string()))?;
            let Some(key) = str_field(&json, key_field) else {
                return Err(fail(format!(
                    "a {kind} needs a `{key_field}` field (a string)"
                )));
            };
            let mut raw = Raw::default();
            push_json(&mut raw, name, &json.to_string())
                .map_err(|e| fail(format!("invalid {kind}: {e}")))?;
            Ok(record_of(kind, key, &json))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn one_pass_and_the_loader_make_the_same_records() {
        let files = crate::bundled_files();
        let (_, fast) = records_in_one_pass(&files).unwrap().unwrap();
        let (_, slow) = records_via_loader(&files).unwrap();
        assert!(fast.len() > 100);
        assert_eq!(fast, slow);
    }

    #[test]
    fn times_a_register_implies_are_derived() {
        let (_, records) = records_from_files(&crate::bundled_files()).unwrap();
        let get = |k: RecordKind, key: &str| {
            records
                .iter()
                .find(|r| r.kind == k && r.key == key)
                .unwrap()
                .clone()
        };
        // Pledged 21-22 Sept 2023 (NBC, via the Daily Beast of 2023-09-22),
        // first reported by the earliest source the transfer cites.
        let t = get(RecordKind::Transfer, "us-ua-atacms-2023");
        assert_eq!(t.valid_from.as_deref(), Some("2023-09-21..2023-09-22"));
        assert_eq!(t.recorded_at.as_deref(), Some("2023-09-22"));
        let lot = get(RecordKind::Lot, "us-ua-atacms");
        assert_eq!(lot.valid_from.as_deref(), Some("2023-09-21..2023-09-22"));
        assert_eq!(lot.recorded_at.as_deref(), Some("2023-09-22"));

        // Derived for one record against the rest, as an edit does.
        let mut one = vec![lot.clone()];
        one[0].valid_from = None;
        let others: Vec<&Record> = records.iter().filter(|r| r.key != lot.key).collect();
        derive_times(&mut one, &others);
        assert_eq!(one[0], lot);

        assert_eq!(start_of("2023-01-16..2023-01-20"), "2023-01-16");
        assert_eq!(
            earliest(["2024-09-11", "2023-01-16..2023-01-20", "2025"].into_iter()).as_deref(),
            Some("2023-01-16..2023-01-20")
        );
    }

    #[test]
    fn a_lot_holds_from_its_earliest_transfer_the_first_met_on_a_tie() {
        let rec = |kind, key: &str, lot: Option<&str>, from: Option<&str>| Record {
            kind,
            key: key.into(),
            body: "{}".into(),
            valid_from: from.map(str::to_owned),
            valid_to: None,
            recorded_at: None,
            lot: lot.map(str::to_owned),
        };
        let mut targets = vec![
            rec(RecordKind::Lot, "L1", Some("L1"), None),
            rec(RecordKind::Transfer, "T1", Some("L1"), Some("2024-05-01")),
            rec(
                RecordKind::Transfer,
                "T2",
                Some("L1"),
                Some("2023-01-16..2023-01-20"),
            ),
            rec(RecordKind::Transfer, "T3", Some("L1"), Some("2023-01-16")),
            rec(RecordKind::Transfer, "T4", Some("L2"), Some("2020")),
            rec(RecordKind::Lot, "L3", Some("L3"), Some("stale")),
        ];
        let other = rec(RecordKind::Transfer, "T5", Some("L3"), Some("2022-02-02"));
        derive_times(&mut targets, &[&other]);
        assert_eq!(
            targets[0].valid_from.as_deref(),
            Some("2023-01-16..2023-01-20")
        );
        assert_eq!(targets[5].valid_from.as_deref(), Some("2022-02-02"));
        assert_eq!(targets[5].recorded_at, None);
    }

    /// The tables [`for_each_table`] hands out, as (name, table) pairs.
    fn tables(text: &str) -> Option<Vec<(String, serde_json::Value)>> {
        let mut out = Vec::new();
        for_each_table(text, &mut |name, v| {
            out.push((name.to_owned(), v));
            Some(())
        })?;
        Some(out)
    }

    /// The same pairs from a whole-document parse, for comparison.
    fn whole(text: &str) -> Vec<(String, serde_json::Value)> {
        let mut v: serde_json::Value = toml::from_str(text).unwrap();
        sort_keys(&mut v);
        let mut out = Vec::new();
        for (name, items) in v.as_object().unwrap() {
            for t in items.as_array().unwrap() {
                out.push((name.clone(), t.clone()));
            }
        }
        out
    }

    #[test]
    fn tables_parsed_one_at_a_time_equal_a_whole_parse() {
        let text = "# transfers\r\n\n[[lot]]\nid = \"L1\"\nquantity = 3\n\n  [[transfer]] # first\n\
                    id = \"T1\"\nstages = [\n  { stage = \"delivered\", date = \"2024-01-02\" },\n]\n\
                    [transfer.extra]\nnote = \"a [[b]] c\"\n[[transfer]]\r\nid = \"T2\"\r\nlot = \"L1\"\r\n";
        let got = tables(text).unwrap();
        assert_eq!(got.len(), 3);
        // A whole parse groups by name; the pieces come in file order.
        let mut sorted = got.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(sorted, whole(text));
        assert_eq!(got[1].1["extra"]["note"], "a [[b]] c");
        assert_eq!(tables("").unwrap(), vec![]);
        assert_eq!(tables("# nothing\n\n").unwrap(), vec![]);
    }

    #[test]
    fn a_cut_anywhere_but_between_tables_gives_up() {
        // A `[[` opening a line inside a multi-line string: a whole parse
        // reads it as text, so the pieces must not be trusted.
        let in_string =
            "[[transfer]]\nid = \"T1\"\nnote = \"\"\"\n[[transfer]]\nid = \"T9\"\n\"\"\"\n";
        assert_eq!(whole(in_string).len(), 1);
        assert!(tables(in_string).is_none());
        // A nested array opening a line inside an array value.
        let in_array = "[[transfer]]\nid = \"T1\"\nx = [\n[[1, 2]],\n]\n";
        assert_eq!(whole(in_array).len(), 1);
        assert!(tables(in_array).is_none());
        // A sub-table array of the previous table, a plain table, a key
        // before the first table.
        assert!(
            tables("[[transfer]]\nid = \"T1\"\n[[transfer.stages]]\nstage = \"x\"\n").is_none()
        );
        assert!(tables("[transfer]\nid = \"T1\"\n").is_none());
        assert!(tables("x = 1\n[[transfer]]\nid = \"T1\"\n").is_none());
        assert!(tables("[[transfer]]\nid = \"T1\n").is_none());
        // A refusal by the caller stops the walk.
        let mut seen = 0;
        let r = for_each_table("[[a]]\nx = 1\n[[a]]\nx = 2\n", &mut |_, _| {
            seen += 1;
            None
        });
        assert!(r.is_none());
        assert_eq!(seen, 1);
    }

    #[test]
    fn an_unknown_table_falls_back_to_the_located_error() {
        let mut map: BTreeMap<String, String> = crate::bundled_files()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let parties = map.get_mut("parties.toml").unwrap();
        parties.push_str("\n[[partys]]\nid = \"XX\"\n");
        let files = DataFiles::from_map("t", map);
        assert!(records_in_one_pass(&files).is_none());
        let Err(e) = records_from_files(&files) else {
            panic!("accepted an unknown table");
        };
        let p = &e.problems()[0];
        assert_eq!(p.file, "parties.toml");
        assert!(p.line.is_some(), "{p:?}");
    }
}
