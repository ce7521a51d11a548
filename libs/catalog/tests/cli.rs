//! Compiles and runs `apps/veloz/src/data_import.rs` (the `veloz data import`
//! command, owned with this crate) against the real fixtures and bad input.

#[path = "../../../apps/veloz/src/data_import.rs"]
mod data_import;

use clap::Parser;
use veloz_catalog::{Catalog, Query, Table};
use veloz_core::fixtures::fixture;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: data_import::ImportArgs,
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("veloz-catalog-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn imports_the_market_fixture_folder() {
    let dir = temp_dir("market");
    let market = fixture("binance/market").unwrap();
    let cli = Cli::parse_from([
        "import".as_ref(),
        market.as_os_str(),
        "--catalog".as_ref(),
        dir.join("cat").as_os_str(),
    ]);
    data_import::run(&cli.args).unwrap();
    let cat = Catalog::open(dir.join("cat")).unwrap();
    let bars = cat
        .read_records(&Query {
            tables: vec![Table::Bars],
            ..Query::default()
        })
        .unwrap()
        .count();
    assert_eq!(bars, 43_199 + 60_191 + 41_761 + 34_945 + 3 * 1_440);
    let mut ids: Vec<String> = cat
        .instruments(Table::Bars)
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "BINANCE.SPOT.BTCUSDT",
            "BINANCE.USDM.BTCUSDT",
            "BINANCE.USDM.ETHUSDT"
        ]
    );
    assert_eq!(cat.instruments(Table::Funding).unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_fails_with_the_file_and_line_and_keeps_nothing() {
    let dir = temp_dir("bad");
    let csv = dir.join("usdm_btcusdt_1m_bad.csv");
    std::fs::write(
        &csv,
        "open_time,open,high,low,close,volume\n1746372780000,1,2,0.5,1.5,3\n1746372840000,1,2,oops,1.5,3\n",
    )
    .unwrap();
    let cat = dir.join("cat");
    let cli = Cli::parse_from([
        "import".as_ref(),
        csv.as_os_str(),
        "--catalog".as_ref(),
        cat.as_os_str(),
    ]);
    let err = format!("{:#}", data_import::run(&cli.args).unwrap_err());
    assert!(err.contains("usdm_btcusdt_1m_bad.csv"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("oops"), "{err}");
    // The first good row was not kept.
    assert_eq!(
        Catalog::open(&cat)
            .unwrap()
            .read_records(&Query::default())
            .unwrap()
            .count(),
        0
    );

    let odd = dir.join("notes.csv");
    std::fs::write(&odd, "a,b,c\n1,2,3\n").unwrap();
    let cli = Cli::parse_from([
        "import".as_ref(),
        odd.as_os_str(),
        "--catalog".as_ref(),
        cat.as_os_str(),
    ]);
    let err = format!("{:#}", data_import::run(&cli.args).unwrap_err());
    assert!(
        err.contains("unknown file layout") && err.contains("supported layouts"),
        "{err}"
    );

    let cli = Cli::parse_from([
        "import".as_ref(),
        odd.as_os_str(),
        "--instrument".as_ref(),
        "BTCUSDT".as_ref(),
    ]);
    assert!(data_import::run(&cli.args).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
