//! The Redis tier's connections: one server or a Redis Cluster, each with a
//! sync connection (pooled by the tier) and an async one (multiplexed), and
//! what a clear needs on a cluster: its masters, and a `SCAN` on each.
//!
//! `CACHE_RUNTIME_REDIS_URL` names a cluster by listing its nodes, separated
//! by commas (`redis://10.0.0.1:7000/,redis://10.0.0.2:7000/`; a trailing
//! comma makes one seed URL a cluster too). The client learns the rest of
//! the cluster from them.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    AsyncConnectionConfig, Client, Connection, ConnectionLike, FromRedisValue, RedisError, Value,
};

/// Where the records live.
#[expect(
    clippy::large_enum_variant,
    reason = "one per process, never moved after it is made"
)]
pub(crate) enum Servers {
    Single(Client),
    /// A Redis Cluster, and a client for each node URL given (to subscribe
    /// to the events channel: a cluster carries `PUBLISH` to every node).
    Cluster {
        client: ClusterClient,
        nodes: Vec<Client>,
    },
}

impl Servers {
    /// Parses `url`: one server, or a comma-separated list of cluster nodes.
    /// `timeout` bounds connecting and every answer; a cluster request is
    /// retried at most twice (redirections after a resharding), briefly, so
    /// that an outage costs about `timeout`, not the client's default 16
    /// retries.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, RedisError> {
        if !url.contains(',') {
            return Ok(Servers::Single(Client::open(url)?));
        }
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .collect();
        let nodes = urls
            .iter()
            .map(|node| Client::open(*node))
            .collect::<Result<Vec<_>, _>>()?;
        let client = ClusterClient::builder(urls)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()?;
        Ok(Servers::Cluster { client, nodes })
    }

    /// The clients the events subscription tries, in turn.
    pub(crate) fn subscribers(&self) -> Vec<Client> {
        match self {
            Servers::Single(client) => vec![client.clone()],
            Servers::Cluster { nodes, .. } => nodes.clone(),
        }
    }

    /// A new sync connection, its answers bounded by `timeout`.
    pub(crate) fn connect(&self, timeout: Duration) -> Result<SyncLink, RedisError> {
        match self {
            Servers::Single(client) => {
                let connection = client.get_connection_with_timeout(timeout)?;
                connection.set_read_timeout(Some(timeout))?;
                connection.set_write_timeout(Some(timeout))?;
                Ok(SyncLink::Single(connection))
            }
            Servers::Cluster { client, .. } => {
                Ok(SyncLink::Cluster(Box::new(client.get_connection()?)))
            }
        }
    }

    /// A new async connection (multiplexed: clones share it), its answers
    /// bounded by `timeout`.
    pub(crate) async fn connect_async(&self, timeout: Duration) -> Result<AsyncLink, RedisError> {
        match self {
            Servers::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                Ok(AsyncLink::Single(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                ))
            }
            Servers::Cluster { client, .. } => {
                Ok(AsyncLink::Cluster(client.get_async_connection().await?))
            }
        }
    }
}

/// A sync connection to the server or the cluster.
pub(crate) enum SyncLink {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

/// A node to `SCAN`: the one server, or one master of a cluster.
pub(crate) enum Node {
    Server,
    Master { host: String, port: u16 },
}

impl SyncLink {
    /// The connection, for commands and scripts (a cluster routes each by
    /// its keys).
    pub(crate) fn get(&mut self) -> &mut dyn ConnectionLike {
        match self {
            SyncLink::Single(connection) => connection,
            SyncLink::Cluster(connection) => connection.as_mut(),
        }
    }

    /// The nodes that hold keys: the server, or every master of the cluster
    /// (from `CLUSTER SLOTS`).
    pub(crate) fn masters(&mut self) -> Result<Vec<Node>, RedisError> {
        let SyncLink::Cluster(connection) = self else {
            return Ok(vec![Node::Server]);
        };
        let slots: Value = redis::cmd("CLUSTER").arg("SLOTS").query(connection)?;
        let mut masters: Vec<(String, u16)> = Vec::new();
        if let Value::Array(ranges) = slots {
            for range in ranges {
                // [first slot, last slot, [host, port, id, ..] (the master), replicas..]
                let Value::Array(range) = range else { continue };
                let Some(Value::Array(master)) = range.get(2) else {
                    continue;
                };
                let (Some(host), Some(port)) = (master.first(), master.get(1)) else {
                    continue;
                };
                let (Ok(host), Ok(port)) = (
                    String::from_redis_value_ref(host),
                    u16::from_redis_value_ref(port),
                ) else {
                    continue;
                };
                if !masters.contains(&(host.clone(), port)) {
                    masters.push((host, port));
                }
            }
        }
        Ok(masters
            .into_iter()
            .map(|(host, port)| Node::Master { host, port })
            .collect())
    }

    /// One `SCAN` step on `node`: the next cursor and the keys matching
    /// `pattern`.
    pub(crate) fn scan(
        &mut self,
        node: &Node,
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), RedisError> {
        let mut command = redis::cmd("SCAN");
        command
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500);
        match (self, node) {
            (SyncLink::Cluster(connection), Node::Master { host, port }) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                let answer = connection.route_command(&command, routing)?;
                Ok(redis::from_redis_value(answer)?)
            }
            (link, _) => command.query(link.get()),
        }
    }
}

/// An async connection to the server or the cluster; clones share it.
#[derive(Clone)]
pub(crate) enum AsyncLink {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// One request of the async path.
pub(crate) enum Request {
    Command(redis::Cmd),
    Script(redis::ScriptInvocation<'static>),
}

impl AsyncLink {
    /// Runs `request` (a cluster routes it by its keys).
    pub(crate) async fn run<T: FromRedisValue>(
        &mut self,
        request: &Request,
    ) -> Result<T, RedisError> {
        match (self, request) {
            (AsyncLink::Single(connection), Request::Command(command)) => {
                command.query_async(connection).await
            }
            (AsyncLink::Single(connection), Request::Script(script)) => {
                script.invoke_async(connection).await
            }
            // Boxed: the cluster client's futures are large, and would size
            // every request's, on one server too.
            (AsyncLink::Cluster(connection), Request::Command(command)) => {
                Box::pin(command.query_async(connection)).await
            }
            (AsyncLink::Cluster(connection), Request::Script(script)) => {
                Box::pin(script.invoke_async(connection)).await
            }
        }
    }
}

/// The part of `key` that Redis Cluster hashes to choose its slot: the text
/// between the first `{` and the next `}` when not empty, else all of it.
/// Keys with one tag are in one slot, so one command may name them all.
pub(crate) fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(length) = key[open + 1..].find('}')
        && length > 0
    {
        return &key[open + 1..open + 1 + length];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::hash_tag;

    #[test]
    fn hash_tags_follow_redis_cluster_rules() {
        assert_eq!(hash_tag("app:{00ff}:r:12"), "00ff");
        assert_eq!(hash_tag("a{b:{00ff}:r:12"), "b:{00ff");
        assert_eq!(hash_tag("app:{}:{00ff}"), "app:{}:{00ff}");
        assert_eq!(hash_tag("plain"), "plain");
        assert_eq!(hash_tag("open{only"), "open{only");
    }
}
