use clap::Parser;

fn main() -> std::process::ExitCode {
    virel_lab::runtime::exit_quietly_on_closed_pipe();
    virel_lab::runtime::set_process_env();
    let cli = virel_lab::cli::Cli::parse();
    match virel_lab::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
