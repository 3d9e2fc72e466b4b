//! Builds the runtime that `scc build` links into standalone executables: the `scc-native`
//! crate as a static library, in release mode with LTO, by a nested cargo in a target
//! directory of its own (`$OUT_DIR/native-target`, so it never waits on the outer build's
//! locks). The library is copied to `$OUT_DIR/libscc_native.a` (debug info stripped when a
//! `strip` is at hand) and its path exported as `SCC_NATIVE_LIB` for
//! `include_bytes!(env!("SCC_NATIVE_LIB"))`; `SCC_NATIVE_LINK_ARGS` holds the link
//! arguments it needs after it (see `native/README.md`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// System libraries the static library needs on Linux (what `rustc --print
/// native-static-libs` lists, with `-lgcc_s` replaced by `-static-libgcc`, which links the
/// unwinder statically from `libgcc_eh.a`: the executables then need only the C library).
const LINUX_LINK_ARGS: &str = "-static-libgcc -lpthread -ldl -lm -lrt -lutil -lc";

/// Variables of the outer build that must not steer the nested one: its target directory,
/// its jobserver, wrappers that are not a compiler (clippy, `cargo fix`), and the flags of
/// the outer target (the runtime is always built with default, portable flags).
const CLEARED_ENV: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "__CARGO_FIX_PLZ",
    "__CARGO_FIX_BROKEN_CODE",
];

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets `{name}` for build scripts"))
}

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let target = env("TARGET");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for path in [
        "build.rs",
        "native",
        "runtime",
        "kernels",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }

    let target_dir = out_dir.join("native-target");
    let mut command = Command::new(&cargo);
    command
        .arg("rustc")
        .args(["--release", "--package", "scc-native", "--lib"])
        // The library's own crate types include `rlib`, which rules out LTO; building only
        // the staticlib lets LTO drop what the exported functions never reach (≈ 3× smaller).
        .args(["--crate-type", "staticlib"])
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--target", &target])
        .args(["--message-format", "short"]);
    if let Ok(jobs) = std::env::var("NUM_JOBS") {
        command.args(["--jobs", &jobs]);
    }
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    // `cargo fix` and `cargo clippy --fix` run rustc through cargo itself.
    if std::env::var_os("RUSTC_WRAPPER").is_some_and(|w| Path::new(&w) == Path::new(&cargo)) {
        command.env_remove("RUSTC_WRAPPER");
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cargo}` to build the scc-native runtime: {e}"));
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("building the scc-native runtime failed ({})", output.status);
    }

    let built = target_dir
        .join(&target)
        .join("release")
        .join("libscc_native.a");
    let library = out_dir.join("libscc_native.a");
    std::fs::copy(&built, &library).unwrap_or_else(|e| {
        panic!(
            "cannot copy {} to {}: {e}",
            built.display(),
            library.display()
        )
    });
    // Debug info of the standard library is most of the archive; executables do not need it.
    // Best effort: without a working `strip`, the unstripped copy stays.
    let stripped = out_dir.join("libscc_native.stripped.a");
    let strip_ok = target.contains("linux")
        && Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&stripped)
            .arg(&library)
            .output()
            .is_ok_and(|o| o.status.success());
    if strip_ok {
        std::fs::rename(&stripped, &library).expect("replace the runtime with its stripped copy");
    } else {
        let _ = std::fs::remove_file(&stripped);
    }

    println!("cargo:rustc-env=SCC_NATIVE_LIB={}", library.display());
    let link_args = if target.contains("linux") {
        LINUX_LINK_ARGS
    } else {
        // Not tested elsewhere; what rustc lists for most Unix targets.
        "-lpthread -ldl -lm -lc"
    };
    println!("cargo:rustc-env=SCC_NATIVE_LINK_ARGS={link_args}");
}
