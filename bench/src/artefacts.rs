//! What the bench measures is what would be deployed: each function built by
//! `cargo lambda build --release --output-format zip`, and the hello-world baseline built the
//! same way from a crate generated with the workspace's dependency lines, lockfile and release
//! profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use toml_edit::{value, DocumentMut, Item};

/// A Lambda architecture `cargo lambda` builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub triple: &'static str,
    /// Lambda's name for it.
    pub label: &'static str,
}

/// What runs here: timings and memory are measured on `x86_64` builds.
pub const HOST: Target = Target {
    triple: "x86_64-unknown-linux-gnu",
    label: "x86_64",
};

/// What the template deploys: package sizes are measured on `arm64` builds when the target is
/// installed (`rustup target add aarch64-unknown-linux-gnu`).
pub const ARM64: Target = Target {
    triple: "aarch64-unknown-linux-gnu",
    label: "arm64",
};

/// Whether the toolchain has `target`'s standard library (cross builds need it; `cargo lambda`
/// supplies the linker through zig).
pub fn installed(target: Target) -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            Path::new(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/rustlib")
                .join(target.triple)
                .join("lib")
                .is_dir()
        })
        .unwrap_or(false)
}

const HELLO_NAME: &str = "hello-baseline";
const HELLO_MAIN: &str = include_str!("../hello/main.rs");
const JITTER_NAME: &str = "aws-lc-seed-probe";
const JITTER_MAIN: &str = include_str!("../jitter/main.rs");

/// One deployable function: its zip and the binary inside it.
#[derive(Debug, Clone)]
pub struct Artefact {
    pub name: String,
    pub binary: PathBuf,
    pub zip: PathBuf,
    pub zip_bytes: u64,
    pub binary_bytes: u64,
}

/// How to run `cargo lambda` (the Makefile exports `CARGO_LAMBDA`; else `cargo lambda`).
fn cargo_lambda() -> Command {
    match std::env::var_os("CARGO_LAMBDA") {
        Some(path) => {
            let mut c = Command::new(path);
            c.arg("lambda");
            c
        }
        None => {
            let mut c = Command::new("cargo");
            c.arg("lambda");
            c
        }
    }
}

/// A release build of the given workspace functions for `target` into `out` (zips under
/// `out/lambda`).
/// `profile_env` overrides release-profile settings (`CARGO_PROFILE_RELEASE_*`) for the
/// profile comparison; those builds get their own target directory.
pub fn build_functions(
    root: &Path,
    target: Target,
    names: &[&str],
    out: &Path,
    target_dir: &Path,
    profile_env: &[(String, String)],
    skip_build: bool,
) -> Result<Vec<Artefact>, String> {
    let lambda_dir = out.join("lambda");
    let mut cmd = cargo_lambda();
    cmd.current_dir(root)
        .args(["build", "--release", "--output-format", "zip"])
        .arg("--target")
        .arg(target.triple)
        .arg("--lambda-dir")
        .arg(&lambda_dir)
        .env("CARGO_TARGET_DIR", target_dir);
    for name in names {
        cmd.args(["-p", name]);
    }
    for (k, v) in profile_env {
        cmd.env(k, v);
    }
    if !skip_build {
        run(
            cmd,
            &format!("cargo lambda build ({}) {}", target.label, names.join(" ")),
        )?;
    }
    names
        .iter()
        .map(|name| {
            artefact(
                name,
                &lambda_dir,
                &target_dir.join(target.triple).join("release"),
            )
        })
        .collect()
}

/// The hello-world baseline: generates `out/hello` and builds it with `cargo lambda` like the
/// functions. It has its own workspace, lockfile (copied from the root) and target directory.
pub fn build_hello(root: &Path, out: &Path, skip_build: bool) -> Result<Artefact, String> {
    let dir = out.join("hello");
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("read the root Cargo.toml: {e}"))?;
    generate_crate(root, &dir, &hello_manifest(&root_manifest)?, HELLO_MAIN)?;
    let lambda_dir = dir.join("lambda");
    let target_dir = dir.join("target");
    let mut cmd = cargo_lambda();
    cmd.current_dir(&dir)
        .args(["build", "--release", "--output-format", "zip"])
        .arg("--target")
        .arg(HOST.triple)
        .arg("--lambda-dir")
        .arg(&lambda_dir)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir);
    if !skip_build {
        run(cmd, "cargo lambda build (hello-world baseline)")?;
    }
    artefact(
        HELLO_NAME,
        &lambda_dir,
        &target_dir.join(HOST.triple).join("release"),
    )
}

/// The baseline's manifest: the workspace's `lambda_http` and `tokio` lines, edition and
/// release profile, verbatim, so a change to any of them moves the baseline too.
pub fn hello_manifest(root_manifest: &str) -> Result<String, String> {
    generated_manifest(root_manifest, HELLO_NAME, &["lambda_http", "tokio"])
}

/// A manifest for a crate the bench generates: its own workspace, the named
/// `[workspace.dependencies]` lines, the edition and `[profile.release]`, copied verbatim.
fn generated_manifest(root_manifest: &str, name: &str, deps: &[&str]) -> Result<String, String> {
    let root: DocumentMut = root_manifest
        .parse()
        .map_err(|e| format!("parse the root Cargo.toml: {e}"))?;
    let workspace_dep = |name: &str| -> Result<Item, String> {
        root.get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get(name))
            .cloned()
            .ok_or_else(|| format!("[workspace.dependencies] has no {name}"))
    };
    let profile = root
        .get("profile")
        .and_then(|p| p.get("release"))
        .cloned()
        .ok_or("the root Cargo.toml has no [profile.release]")?;
    let edition = root
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("edition"))
        .and_then(|e| e.as_str())
        .unwrap_or("2021")
        .to_string();

    let mut doc = DocumentMut::new();
    doc["package"]["name"] = value(name);
    doc["package"]["version"] = value("0.1.0");
    doc["package"]["edition"] = value(edition);
    doc["package"]["publish"] = value(false);
    for dep in deps {
        doc["dependencies"][dep] = workspace_dep(dep)?;
    }
    doc["profile"]["release"] = profile;
    if let Some(t) = doc["profile"].as_table_mut() {
        t.set_implicit(true);
    }
    doc["workspace"] = toml_edit::table();
    Ok(format!(
        "# Generated by sessions-bench from the workspace's Cargo.toml; do not edit.\n{doc}"
    ))
}

/// Writes a generated crate (manifest, `src/main.rs`, the root's lockfile) into `dir`.
fn generate_crate(root: &Path, dir: &Path, manifest: &str, main: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_if_changed(&dir.join("Cargo.toml"), manifest)?;
    write_if_changed(&dir.join("src/main.rs"), main)?;
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
            .map_err(|e| format!("copy Cargo.lock: {e}"))?;
    }
    Ok(())
}

/// The AWS-LC seeding probe, built with the workspace's `aws-lc-rs` line and profile, once as
/// the workspace builds it and once with `AWS_LC_SYS_NO_JITTER_ENTROPY=1`. Returns the two
/// binaries (default, without jitter entropy).
pub fn build_jitter_probes(root: &Path, out: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = out.join("jitter");
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("read the root Cargo.toml: {e}"))?;
    let manifest = generated_manifest(&root_manifest, JITTER_NAME, &["aws-lc-rs"])?;
    generate_crate(root, &dir, &manifest, JITTER_MAIN)?;
    let build = |variant: &str, no_jitter: bool| -> Result<PathBuf, String> {
        let target_dir = dir.join(format!("target-{variant}"));
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&dir)
            .args(["build", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("AWS_LC_SYS_NO_JITTER_ENTROPY");
        if no_jitter {
            cmd.env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1");
        }
        run(cmd, &format!("cargo build (AWS-LC probe, {variant})"))?;
        Ok(target_dir.join("release").join(JITTER_NAME))
    };
    Ok((build("default", false)?, build("no-jitter", true)?))
}

fn write_if_changed(path: &Path, contents: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

fn artefact(name: &str, lambda_dir: &Path, release_dir: &Path) -> Result<Artefact, String> {
    let zip = lambda_dir.join(name).join("bootstrap.zip");
    let binary = release_dir.join(name);
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    Ok(Artefact {
        name: name.to_string(),
        zip_bytes: size(&zip)?,
        binary_bytes: size(&binary)?,
        binary,
        zip,
    })
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("bench: {what} ...");
    let status = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    eprintln!(
        "bench: {what}: {status} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_takes_the_workspace_lines_verbatim() {
        let root = r#"
[workspace.package]
edition = "2021"

[workspace.dependencies]
lambda_http = { version = "1.3", default-features = false, features = ["apigw_http"] }
tokio = { version = "1", features = ["macros"] }
serde = "1"

[profile.release]
opt-level = "s"
lto = true
"#;
        let manifest = hello_manifest(root).expect("manifest");
        let doc: DocumentMut = manifest.parse().expect("valid TOML");
        assert_eq!(doc["profile"]["release"]["opt-level"].as_str(), Some("s"));
        assert_eq!(doc["profile"]["release"]["lto"].as_bool(), Some(true));
        assert_eq!(
            doc["dependencies"]["lambda_http"]["default-features"].as_bool(),
            Some(false)
        );
        assert!(doc["dependencies"].get("serde").is_none());
        assert!(doc["workspace"].is_table());
    }

    #[test]
    fn a_missing_profile_is_an_error() {
        let root = "[workspace.dependencies]\nlambda_http = \"1\"\ntokio = \"1\"\n";
        assert!(hello_manifest(root).is_err());
    }
}
