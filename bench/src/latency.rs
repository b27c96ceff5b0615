//! A loopback proxy that holds every chunk the engine sends back for a fixed delay, so each
//! DynamoDB request costs a round trip as it does across a network. The local engine answers
//! in a fraction of a millisecond, which hides what concurrency buys against the real service;
//! with a round trip added, a sequential loop pays it once per item and revoke-all's updates
//! in flight share it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; dropping it stops accepting.
pub struct LatencyFront {
    /// The value for the SDK's endpoint URL.
    pub endpoint: String,
    task: JoinHandle<()>,
}

impl LatencyFront {
    /// Forwards to `upstream` (`host:port`), delaying the engine's answers by `delay`.
    pub async fn start(upstream: &str, delay: Duration) -> std::io::Result<LatencyFront> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(engine) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = engine.set_nodelay(true);
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut engine_read, mut engine_write) = engine.into_split();
                    let requests = async {
                        let _ = tokio::io::copy(&mut client_read, &mut engine_write).await;
                        let _ = engine_write.shutdown().await;
                    };
                    let answers = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = engine_read.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            tokio::time::sleep(delay).await;
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(requests, answers);
                });
            }
        });
        Ok(LatencyFront {
            endpoint: format!("http://127.0.0.1:{port}"),
            task,
        })
    }
}

impl Drop for LatencyFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
