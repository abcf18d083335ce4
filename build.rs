//! Link-time wiring for libtorch (see scripts/setup.sh, which provides it):
//! - an rpath to `$LIBTORCH/lib`, so the binary, tests and benches find libtorch at run time
//!   without LD_LIBRARY_PATH;
//! - on x86_64, `mkl_serv_intel_cpu[_true]` exported from the executable (src/runtime.rs says
//!   why);
//! - `-Wl,--no-as-needed -ltorch` when the CUDA build of libtorch can be loaded (the full torch
//!   install, with its NVIDIA libraries). Without it the linker drops libtorch.so, libtorch_cuda
//!   is never loaded and CUDA silently never works. On a lean CPU install libtorch_cuda's
//!   dependencies (cuBLAS, cuDNN, ...) are absent, so linking it would stop the binary from
//!   starting: there only libtorch_cpu is linked, and `cuda_linked()` reports false, unless
//!   `VIREL_LINK_TORCH_CUDA=1` asks for the link anyway (a binary for a GPU machine).
//! - src/rl/fused_adam.cpp, compiled against libtorch's headers: PyTorch's fused Adam kernel,
//!   which tch does not bind.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(libtorch) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        println!(
            "cargo:warning=LIBTORCH is not set: run ./dev.sh setup (or scripts/setup.sh) first"
        );
        println!("cargo:rustc-env=VIREL_CUDA_LINKED=0");
        return;
    };
    let libtorch = libtorch.canonicalize().unwrap_or(libtorch);
    let lib = libtorch.join("lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    compile_fused_adam(&libtorch);
    // libtorch's MKL asks these functions whether the CPU is Intel's; the executable's
    // definitions (src/runtime.rs) answer in their place only from its dynamic symbol table.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64") {
        for f in ["mkl_serv_intel_cpu", "mkl_serv_intel_cpu_true"] {
            println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol={f}");
        }
    }

    // VIREL_LINK_TORCH_CUDA=1 links libtorch (and so libtorch_cuda) whatever this machine
    // has: for a binary built here, on a lean install, to run on a GPU machine whose full
    // torch install comes first in LD_LIBRARY_PATH. Such a binary does not start where
    // CUDA's libraries are missing.
    println!("cargo:rerun-if-env-changed=VIREL_LINK_TORCH_CUDA");
    let forced = std::env::var("VIREL_LINK_TORCH_CUDA").as_deref() == Ok("1");
    let cuda = forced || cuda_loadable(&libtorch);
    if cuda {
        println!(
            "cargo:rustc-link-arg=-Wl,--no-as-needed,-L{},-ltorch,--as-needed",
            lib.display()
        );
    }
    println!("cargo:rustc-env=VIREL_CUDA_LINKED={}", u8::from(cuda));
}

/// The C++ side of `rl::optim`'s fused step, with the flags torch-sys builds its own wrapper
/// with (C++17, the new libstdc++ ABI that PyTorch's wheels use).
fn compile_fused_adam(libtorch: &Path) {
    let source = "src/rl/fused_adam.cpp";
    println!("cargo:rerun-if-changed={source}");
    cc::Build::new()
        .cpp(true)
        .file(source)
        .include(libtorch.join("include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .warnings(false)
        .compile("virel_fused_adam");
}

/// libtorch_cuda.so exists and cuBLAS, which it needs, was installed next to it.
fn cuda_loadable(libtorch: &Path) -> bool {
    let Some(site) = libtorch.parent() else {
        return false;
    };
    libtorch.join("lib/libtorch_cuda.so").exists()
        && [
            "nvidia/cu13/lib/libcublas.so.13",
            "nvidia/cublas/lib/libcublas.so.13",
        ]
        .iter()
        .any(|p| site.join(p).exists())
}
