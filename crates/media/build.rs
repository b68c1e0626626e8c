//! Build script of kvs-media: it only warns when openh264 is about to be built without its
//! x86 assembly. It builds nothing and changes no setting; openh264 itself is compiled by
//! `openh264-sys2`.
//!
//! Why: `openh264-sys2` assembles openh264's SIMD code with `nasm` when it finds one (the
//! `NASM` variable, else `nasm` on `PATH`) and otherwise falls back to plain C without a
//! word. The C build decodes H.264 2.3x slower (909 frames of 640x330: 0.63 s against
//! 0.27 s on one core), slower than FFmpeg, so a user without nasm gets `kvs frames` at
//! well under the speed it is built for and no hint why.

use std::process::Command;

fn main() {
    // Not `PATH`: the warning would come and go, and kvs-media be rebuilt, whenever a shell
    // has a different one. openh264-sys2 does not rerun on either, which the warning says.
    println!("cargo:rerun-if-env-changed=NASM");
    println!("cargo:rerun-if-env-changed=OPENH264_NO_ASM");
    println!("cargo:rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // Only x86 assembly needs nasm (ARM's goes through the C compiler); with
    // OPENH264_NO_ASM set, C is what was asked for.
    if !matches!(arch.as_str(), "x86" | "x86_64") || std::env::var_os("OPENH264_NO_ASM").is_some() {
        return;
    }
    let nasm = std::env::var_os("NASM").unwrap_or_else(|| "nasm".into());
    let found = Command::new(&nasm).arg("-v").output().is_ok_and(|out| out.status.success());
    if !found {
        println!(
            "cargo:warning=nasm not found: openh264 is built without its assembly and decodes H.264 \
             about 2.3x slower. Install nasm (apt install nasm), then `cargo clean -p openh264-sys2` \
             and build again."
        );
    }
}
