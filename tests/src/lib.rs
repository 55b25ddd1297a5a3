//! Helpers shared by the cross-crate integration tests.
//!
//! [`probe`] is the program shape the persistence tests run as real processes.
//!
//! [`RedisServer`] starts a throwaway `redis-server` on a free loopback port and
//! stops it when dropped, so tests never depend on a server someone left running.
//! [`RedisCluster`] does the same for a three-master Redis Cluster.

pub mod probe;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` process owned by a test; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// TLS only, with an ACL user: see [`RedisServer::start_tls`].
    tls: bool,
}

/// The ACL user and password of [`RedisServer::start_tls`].
pub const TLS_USER: (&str, &str) = ("app", "s3cret-pass");

impl RedisServer {
    /// Starts `redis-server` on a free loopback port with persistence off.
    ///
    /// # Panics
    /// When `redis-server` is not installed (the README's test command installs it)
    /// or does not answer `PING` within ten seconds.
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a folder for redis-server");
        let mut server = Self {
            child: None,
            port,
            dir,
            tls: false,
        };
        server.spawn();
        server
    }

    /// Starts a `redis-server` that speaks TLS only (certificates made here
    /// with `openssl`: a CA, see [`RedisServer::ca_file`], and a server
    /// certificate for 127.0.0.1), with the default user off and one ACL
    /// user, [`TLS_USER`].
    ///
    /// # Panics
    /// When `redis-server` or `openssl` is missing, or the server does not
    /// accept connections within ten seconds.
    pub fn start_tls() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a folder for redis-server");
        make_certificates(&dir);
        let mut server = Self {
            child: None,
            port,
            dir,
            tls: true,
        };
        server.spawn();
        server
    }

    /// The CA certificate that signed a [`RedisServer::start_tls`] server's
    /// (point `SSL_CERT_FILE` at it).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1"]);
        if self.tls {
            let (user, password) = TLS_USER;
            command
                .args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(self.dir.join("server.crt"))
                .arg("--tls-key-file")
                .arg(self.dir.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(self.dir.join("ca.crt"))
                .args(["--tls-auth-clients", "no"])
                .args(["--user", "default", "off"])
                .args([
                    "--user",
                    user,
                    "on",
                    &format!(">{password}"),
                    "~*",
                    "&*",
                    "+@all",
                ]);
        } else {
            command.args(["--port", &self.port.to_string()]);
        }
        let child = command
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is not installed: run the README's test command, which installs it",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ready = if self.tls {
                TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
            } else {
                ping(self.addr())
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10s",
            self.port
        );
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A `redis://` URL for this server (`rediss://` with [`TLS_USER`]'s
    /// credentials for a [`RedisServer::start_tls`] one).
    pub fn url(&self) -> String {
        if self.tls {
            let (user, password) = TLS_USER;
            format!("rediss://{user}:{password}@127.0.0.1:{}/", self.port)
        } else {
            format!("redis://127.0.0.1:{}/", self.port)
        }
    }

    /// Kills the server (to test outages); [`RedisServer::restart`] brings it back on the same port.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A paused server dies of SIGKILL all the same.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server without closing its connections (`SIGSTOP`): a hang,
    /// as a frozen host or a full network buffer looks to a client.
    ///
    /// # Panics
    /// When the `kill` command is missing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`RedisServer::pause`]d server run again (`SIGCONT`).
    ///
    /// # Panics
    /// When the `kill` command is missing.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(signal)
                .arg(child.id().to_string())
                .status()
                .expect("the kill command");
            assert!(status.success(), "kill {signal} failed");
        }
    }

    /// Starts the server again on the same port after [`RedisServer::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a server certificate for 127.0.0.1 it signed, in `dir`.
fn make_certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is not installed: run the README's test command, which installs it");
        assert!(status.success(), "openssl {args:?} failed");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=cache-runtime test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write the certificate extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
}

/// A three-master Redis Cluster on loopback ports (no replicas), made with
/// `redis-server --cluster-enabled yes` and `redis-cli --cluster create`;
/// every node is killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three masters and joins them into one cluster, waiting until
    /// every node reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` or `redis-cli` is missing, or the cluster is not
    /// ready within twenty seconds.
    pub fn start() -> Self {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let dir =
            std::env::temp_dir().join(format!("redis-cluster-{}-{}", std::process::id(), ports[0]));
        std::fs::create_dir_all(&dir).expect("create a folder for the cluster");
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: ports.clone(),
            dir,
        };
        for port in &ports {
            let node_dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("create a node's folder");
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--cluster-enabled", "yes"])
                // The bus port beside a free one could be out of range.
                .args(["--cluster-port", &free_port().to_string()])
                .args(["--cluster-node-timeout", "2000"])
                .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "redis-server is not installed: run the README's test command, which installs it",
                );
            cluster.nodes.push(child);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &ports {
            while !ping(SocketAddr::from(([127, 0, 0, 1], *port))) {
                assert!(
                    Instant::now() < deadline,
                    "cluster node {port} never answered"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(ports.iter().map(|port| format!("127.0.0.1:{port}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is not installed: run the README's test command, which installs it");
        assert!(status.success(), "redis-cli --cluster create failed");
        for port in &ports {
            while !cluster_ok(*port) {
                assert!(
                    Instant::now() < deadline,
                    "cluster node {port} never became ready"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// The nodes' ports on 127.0.0.1.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The comma-separated node URLs that `CACHE_RUNTIME_REDIS_URL` and
    /// `RedisStore::open` take for a cluster.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}/"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the node on `port` reports `cluster_state:ok` and sees every slot.
fn cluster_ok(port: u16) -> bool {
    let Ok(output) = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
    else {
        return false;
    };
    let info = String::from_utf8_lossy(&output.stdout);
    info.contains("cluster_state:ok") && info.contains("cluster_slots_assigned:16384")
}

/// Sends `PING` and expects `+PONG`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind an ephemeral loopback port")
}
