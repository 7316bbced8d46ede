//! A throw-away PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, a server that listens only on a Unix socket in that directory,
//! and `pg_ctl stop -m immediate` when the [`Cluster`] is dropped.
//!
//! Use it from any test as `enduse_testkit::pgcluster::Cluster`. It needs
//! the PostgreSQL server binaries (`initdb`, `pg_ctl`) on `PATH` or in
//! `/usr/lib/postgresql/<15..>/bin`. Run as root, it runs the server
//! binaries as the `postgres` user through `runuser`, since `initdb`
//! refuses root.
//!
//! Start one cluster per test binary and hold it in a local of the test
//! function (statics are never dropped, so a server held by one would
//! outlive the test process); give each case its own database with
//! [`Cluster::fresh_db`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running PostgreSQL server in a temporary directory.
pub struct Cluster {
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    next_db: AtomicUsize,
    running: bool,
    // Last field: removed after `drop` has stopped the server.
    dir: tempfile::TempDir,
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                return d;
            }
        }
    }
    for v in (15..=20).rev() {
        let d = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
            return d;
        }
    }
    panic!(
        "the PostgreSQL tests need the PostgreSQL 15 server binaries (`initdb`, `pg_ctl`) on PATH \
         or in /usr/lib/postgresql/15/bin; install them (Debian/Ubuntu: `apt-get install postgresql-15`)"
    )
}

/// Whether this process runs as root (uid 0), read from /proc or `id -u`.
fn is_root() -> bool {
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = s.lines().find(|l| l.starts_with("Uid:")) {
            // Uid: real effective saved fs
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    /// Creates and starts a new cluster; panics with the server's log when
    /// that fails.
    pub fn start() -> Cluster {
        let bin = find_bin();
        let as_postgres = is_root();
        // A Unix socket path must stay under ~100 bytes: use /tmp when the
        // default temporary directory has a long name.
        let base = std::env::temp_dir();
        let base = if base.as_os_str().len() > 60 {
            PathBuf::from("/tmp")
        } else {
            base
        };
        let dir = tempfile::Builder::new()
            .prefix("enduse-pg-")
            .tempdir_in(&base)
            .expect("temporary directory for the PostgreSQL cluster");
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        let log = dir.path().join("log");
        std::fs::create_dir(&sock).unwrap();
        if as_postgres {
            run(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
                "chown the cluster directory to postgres",
            );
            // The postgres user must reach the directory (its parent is
            // usually /tmp; tempfile makes the directory itself 0700).
            run(
                Command::new("chmod").arg("0755").arg(dir.path()),
                "chmod the cluster directory",
            );
        }
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let mut c = Cluster {
            bin,
            as_postgres,
            port,
            data,
            sock,
            log,
            next_db: AtomicUsize::new(0),
            running: false,
            dir,
        };
        let data = c.data.clone();
        let mut initdb = c.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "enduse", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        run(&mut initdb, "initdb");
        let opts = format!(
            "-k {} -c listen_addresses='' -p {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=50",
            c.sock.display(),
            c.port
        );
        let mut start = c.command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(&opts)
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("-l")
            .arg(&c.log)
            .arg("start");
        let out = start.output().expect("run pg_ctl start");
        if !out.status.success() {
            let log = std::fs::read_to_string(&c.log).unwrap_or_default();
            panic!(
                "pg_ctl start failed ({}):\n{}{}\nserver log:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        c.running = true;
        c
    }

    /// A command for one of the server binaries, as `postgres` when root.
    fn command(&self, name: &str) -> Command {
        let prog = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(prog);
            c
        } else {
            Command::new(prog)
        };
        // The binaries complain when they cannot return to the current
        // directory (root's home, say).
        cmd.current_dir(self.dir.path());
        cmd.env("LC_ALL", "C");
        cmd
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The connection string of database `db`.
    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host={} port={} user=enduse dbname={db}",
            self.sock.display(),
            self.port
        )
    }

    /// A client of the `postgres` database, for administration.
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.conn_str("postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to the test cluster: {e}"))
    }

    /// Creates the (new, empty) database `name` and returns its connection
    /// string.
    pub fn create_db(&self, name: &str) -> String {
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        self.conn_str(name)
    }

    /// A new empty database with a name not used before in this cluster.
    pub fn fresh_db(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::SeqCst);
        self.create_db(&format!("t{n}"))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let data = self.data.clone();
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]);
        match stop.output() {
            Ok(o) if o.status.success() => return,
            Ok(o) => eprintln!(
                "pg_ctl stop failed: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("pg_ctl stop could not run: {e}"),
        }
        // Do not leave the server running: kill the postmaster this
        // cluster started, by the pid it recorded.
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if let Some(pid) = pid {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
