// switchboardd: the Switchboard daemon.
//   switchboardd --config FILE          run
//   switchboardd --check-config FILE    validate FILE, print every problem, exit non-zero if any
//   switchboardd --config FILE migrate  bring the store's schema up to date and exit

#include <iostream>

#include <CLI/CLI.hpp>

#include "app/app.hpp"
#include "config/config.hpp"
#include "log/log.hpp"

int main(int argc, char** argv) {
    CLI::App cli{"Switchboard: customer messaging for support teams"};
    std::string config_path;
    std::string check_path;
    cli.add_option("-c,--config", config_path, "Configuration file (YAML)");
    cli.add_option("--check-config", check_path, "Validate a configuration file and exit");
    auto* migrate = cli.add_subcommand("migrate", "Apply the store's schema migrations and exit");
    cli.set_version_flag("--version", std::string("switchboardd ") + SWITCHBOARD_VERSION);
    CLI11_PARSE(cli, argc, argv);

    if (!check_path.empty()) {
        sb::log::init("warn");  // a plugin's own info lines would bury the verdict
        return sb::app::check_config(check_path);
    }
    if (config_path.empty()) {
        std::cerr << "switchboardd: --config FILE is required (see --help)\n";
        return 2;
    }

    sb::config::Config config;
    try {
        config = sb::config::load_file(config_path);
    } catch (const sb::config::ConfigError& e) {
        // A bad config never starts a half-working daemon.
        std::cerr << e.what() << '\n';
        return 1;
    }
    sb::log::init(config.log_level);
    if (migrate->parsed()) return sb::app::migrate(config);
    return sb::app::run(config, config_path);
}
