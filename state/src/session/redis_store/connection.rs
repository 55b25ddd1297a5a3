//! The store's connection: one server, or a Redis Cluster, behind one
//! [`ConnectionLike`] so every operation has one code path; and the nodes
//! whose expiry events the store hears.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult,
    Value,
};

/// How long connecting to a node may take.
pub(super) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a request may wait for its answer (on a cluster, including its
/// retries and redirections).
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// One server through a reconnecting manager, or a cluster connection (which
/// follows the slots and reconnects on its own).
#[derive(Clone)]
pub(super) enum Connection {
    /// A single server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl Connection {
    /// Whether this is a cluster, where keys of different shards live in
    /// different slots.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The servers that report the expiry of the store's keys: keyspace
/// notifications are per node, and on a cluster each master reports its own
/// keys' only.
#[derive(Clone)]
pub(super) enum EventSources {
    /// The one server.
    Single(redis::Client),
    /// Every master of the cluster, found with `CLUSTER SLOTS` and reached
    /// with these settings (credentials, TLS), each master's host and port in
    /// place of this node's.
    Cluster(ConnectionInfo),
}

impl EventSources {
    /// The nodes to hear now, each named by its address: the server, or the
    /// masters the cluster reports through `conn`.
    pub(super) async fn nodes(
        &self,
        conn: &mut Connection,
    ) -> RedisResult<Vec<(String, redis::Client)>> {
        match self {
            Self::Single(client) => Ok(vec![(
                client.get_connection_info().addr().to_string(),
                client.clone(),
            )]),
            Self::Cluster(template) => masters(conn)
                .await?
                .into_iter()
                .map(|(host, port)| {
                    let host = if host.is_empty() || host == "?" {
                        // The node does not know its own address: it is
                        // reached where the configured node is.
                        match template.addr() {
                            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => {
                                host.clone()
                            }
                            _ => host,
                        }
                    } else {
                        host
                    };
                    let client = redis::Client::open(at_address(template, host.clone(), port))?;
                    Ok((format!("{host}:{port}"), client))
                })
                .collect(),
        }
    }
}

/// `template`'s settings (credentials, database, TLS mode and certificates)
/// for the node at `host:port`.
fn at_address(template: &ConnectionInfo, host: String, port: u16) -> ConnectionInfo {
    let addr = match template.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        // Plain TCP (a cluster has no Unix sockets).
        _ => ConnectionAddr::Tcp(host, port),
    };
    template.clone().set_addr(addr)
}

/// The masters' `(host, port)`, from `CLUSTER SLOTS` (each range's first
/// node), sorted and without repeats.
async fn masters(conn: &mut Connection) -> RedisResult<Vec<(String, u16)>> {
    let ranges: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
    let mut masters: Vec<(String, u16)> = ranges
        .iter()
        .filter_map(|range| {
            let node: Vec<Value> = redis::from_redis_value_ref(range.get(2)?).ok()?;
            let host: String = redis::from_redis_value_ref(node.first()?).ok()?;
            let port: u16 = redis::from_redis_value_ref(node.get(1)?).ok()?;
            Some((host, port))
        })
        .collect();
    masters.sort();
    masters.dedup();
    if masters.is_empty() {
        return Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "CLUSTER SLOTS named no master",
        )));
    }
    Ok(masters)
}
