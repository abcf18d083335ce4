use clap::Parser;

fn main() {
    virel_lab::runtime::set_process_env();
    let cli = virel_lab::cli::Cli::parse();
    if let Err(e) = virel_lab::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
