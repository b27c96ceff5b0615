//! The baseline for `init_ratio_vs_hello`: an empty `lambda_http` function. `make bench` builds
//! it from a crate it generates under `target/bench/hello/`, with the workspace's own
//! `lambda_http` and `tokio` dependency lines, its `Cargo.lock` and its `[profile.release]`,
//! so the only difference from a real function is the function.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
