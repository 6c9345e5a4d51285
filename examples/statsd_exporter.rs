//! A third-party exporter in a few lines, written against the contract crate alone
//! (`lookout-export`): counters and gauges as StatsD lines over UDP, tags DogStatsD-style.
//!
//! cargo run --example statsd_exporter
use lookout_export::{
    Encoded, ExportError, Exporter, FamilyInfo, MetricVisitor, MetricsBatch, Value,
};
use std::net::UdpSocket;

/// Sends each collection as one datagram of `name:value|type|#k:v,...` lines.
struct StatsdExporter {
    socket: UdpSocket,
    peer: String,
}

/// Turns families and series into StatsD lines.
#[derive(Default)]
struct Lines {
    family: String,
    text: String,
    count: usize,
}

impl MetricVisitor for Lines {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        self.family = family.name.to_owned();
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        let (value, kind) = match value {
            Value::Counter(n) => (n.to_string(), "c"),
            Value::Gauge(v) => (v.to_string(), "g"),
            _ => return, // StatsD has no bucketed histograms.
        };
        let tags: Vec<String> = labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!("|#{}", tags.join(","))
        };
        self.text += &format!("{}:{value}|{kind}{tags}\n", self.family);
        self.count += 1;
    }
}

impl Exporter for StatsdExporter {
    type Payload = Vec<u8>;

    fn name(&self) -> &str {
        "statsd"
    }

    fn destination(&self) -> String {
        format!("udp://{}", self.peer)
    }

    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Vec<u8>>> {
        let mut lines = Lines::default();
        batch.source.collect(&mut lines);
        Some(Encoded {
            payload: lines.text.into_bytes(),
            items: lines.count,
        })
    }

    async fn send(&self, datagram: &Vec<u8>) -> Result<(), ExportError> {
        let sent = self.socket.send_to(datagram, &self.peer);
        sent.map(drop)
            .map_err(|e| ExportError::transient("io", e.to_string(), None))
    }
}

pub fn main() -> std::io::Result<()> {
    // The StatsD daemon, played by a socket of our own.
    let daemon = UdpSocket::bind("127.0.0.1:0")?;
    let exporter = StatsdExporter {
        socket: UdpSocket::bind("127.0.0.1:0")?,
        peer: daemon.local_addr()?.to_string(),
    };
    let telemetry = lookout::Telemetry::builder()
        .without_env_exporters()
        .exporters(lookout::pipeline::PipelineBuilder::new().exporter(exporter))
        .build()
        .expect("telemetry");
    telemetry
        .agents()
        .track_task(&lookout::agent::TaskExecution {
            task_type: "review",
            duration: std::time::Duration::from_millis(40),
            error: None,
        });
    telemetry.agents().set_task_queue_size("high", 3);
    assert!(telemetry.flush().is_ok());

    let mut datagram = vec![0; 65_536];
    let n = daemon.recv(&mut datagram)?;
    let text = String::from_utf8_lossy(&datagram[..n]);
    for line in text.lines().filter(|l| l.starts_with("task_")) {
        println!("{line}");
    }
    assert!(
        text.contains("task_success:1|c|#task_type:review"),
        "{text}"
    );
    assert!(
        text.contains("task_queue_size:3|g|#priority:high"),
        "{text}"
    );
    Ok(())
}
