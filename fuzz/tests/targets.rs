//! Every fuzz target on every committed corpus entry and on a fixed-seed batch of mutations
//! of its corpus: all return normally (the long runs are `cargo run -p scc-fuzz`).

use scc_fuzz::{Mutator, TARGETS, load_corpus, run_catching};

#[test]
fn every_target_survives_its_corpus_and_mutations() {
    for target in TARGETS {
        let corpus = load_corpus(target);
        assert!(
            corpus.len() >= 5,
            "fuzz/corpus/{} is nearly empty",
            target.name
        );
        for (file, data) in &corpus {
            run_catching(target, data)
                .unwrap_or_else(|m| panic!("{}/{file} panics: {m}", target.name));
        }
        let entries: Vec<Vec<u8>> = corpus.into_values().collect();
        let mut mutator = Mutator::new(0x5cc_f022);
        for i in 0..1500 {
            let data = mutator.mutate(&entries, target.dictionary);
            if let Err(m) = run_catching(target, &data) {
                panic!(
                    "{} mutation {i} panics: {m}\ninput: {:?}",
                    target.name,
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}
