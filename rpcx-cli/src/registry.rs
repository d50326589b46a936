//! Registries (etcd, Consul, Redis, ZooKeeper, DNS): where the servers of a service are looked up.

use std::time::Duration;

use rpcx::transport::tls::ClientTlsConfig;
use rpcx::xclient::{
    ConsulDiscovery, Discovery, DnsDiscovery, EtcdDiscovery, RedisDiscovery, ZookeeperDiscovery,
};

use crate::cli::RegistryArgs;
use crate::tls::client_tls;

impl RegistryArgs {
    /// Where the servers of `service` are looked up, for messages: the registry (kind and
    /// address), base path, service and group.
    pub(crate) fn describe(&self, service: &str, group: Option<&str>) -> String {
        let at = self.at();
        let group = group.map(|g| format!(", group {g:?}")).unwrap_or_default();
        if self.dns.is_some() {
            format!("{at} (service {service:?}{group})")
        } else {
            format!(
                "{at}, base path {:?}, service {service:?}{group}",
                self.base_path
            )
        }
    }

    /// The registry's kind and address.
    pub(crate) fn at(&self) -> String {
        if let Some(d) = &self.dns {
            format!("DNS {d}")
        } else if let Some(e) = &self.etcd {
            format!("etcd {e}")
        } else if let Some(c) = &self.consul {
            format!("Consul {c}")
        } else if let Some(r) = &self.redis {
            format!("Redis {r}")
        } else if let Some(z) = &self.zookeeper {
            format!("ZooKeeper {z}")
        } else {
            "no registry".to_owned()
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.etcd.is_some()
            || self.consul.is_some()
            || self.redis.is_some()
            || self.zookeeper.is_some()
            || self.dns.is_some()
    }

    /// The servers behind --dns NAME:PORT, looked up once now (then every 30 s).
    pub(crate) async fn dns_discovery(&self) -> Result<Option<DnsDiscovery>, String> {
        let Some(target) = &self.dns else {
            return Ok(None);
        };
        let (name, port) = target
            .rsplit_once(':')
            .and_then(|(n, p)| Some((n, p.parse::<u16>().ok().filter(|p| *p != 0)?)))
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| format!("--dns {target:?}: expected NAME:PORT"))?;
        let network = self.dns_network.as_deref().unwrap_or("tcp");
        let interval = Duration::from_secs(30);
        let d = match &self.dns_server {
            Some(list) => {
                let ns = DnsDiscovery::parse_nameservers(list).map_err(|e| e.to_string())?;
                DnsDiscovery::with_nameservers(name, network, port, interval, &ns).await
            }
            None => DnsDiscovery::new(name, network, port, interval).await,
        };
        d.map(Some).map_err(|e| e.to_string())
    }

    pub(crate) fn etcd_endpoints(&self) -> Option<Vec<String>> {
        self.etcd.as_ref().map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// The registry's TLS settings, when any --registry-tls-* flag is given.
    pub(crate) fn tls(&self) -> Result<Option<ClientTlsConfig>, String> {
        if self.registry_tls_ca.is_none() && self.registry_tls_cert.is_none() {
            return Ok(None);
        }
        let (ca, cert, key) = (
            self.registry_tls_ca.as_ref(),
            self.registry_tls_cert.as_ref(),
            self.registry_tls_key.as_ref(),
        );
        client_tls(ca, cert, key).map(Some)
    }

    pub(crate) async fn discovery(&self, service: &str) -> Result<Box<dyn Discovery>, String> {
        if let Some(d) = self.dns_discovery().await? {
            return Ok(Box::new(d));
        }
        let base = &self.base_path;
        if let Some(addr) = &self.redis {
            let d = RedisDiscovery::connect(addr, base, service).await;
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        if let Some(servers) = &self.zookeeper {
            let d = ZookeeperDiscovery::connect(servers, base, service).await;
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        let tls = self.tls()?;
        if let Some(eps) = self.etcd_endpoints() {
            let d = match &tls {
                Some(tls) => EtcdDiscovery::connect_tls(&eps, base, service, tls).await,
                None => EtcdDiscovery::connect(&eps, base, service).await,
            };
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        let addr = self.consul.as_deref().ok_or("no registry given")?;
        let d = match &tls {
            Some(tls) => ConsulDiscovery::connect_tls(addr, base, service, tls).await,
            None => ConsulDiscovery::connect(addr, base, service).await,
        };
        Ok(Box::new(d.map_err(|e| e.to_string())?))
    }
}
