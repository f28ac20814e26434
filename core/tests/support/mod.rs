//! Fixtures shared by the integration tests: deterministic companions in
//! every interesting state.
#![allow(dead_code)]

use tessera_core::{Companion, Config, Registration, Response, Secret, SeededEntropy};

/// A fixed "now" for vectors: 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;
/// Broker token used by connected fixtures.
pub const TOKEN: &str = "btk_Zm9yLXRlc3RzLW9ubHk";

pub fn rng(seed: u8) -> SeededEntropy {
    SeededEntropy::new([seed; 32])
}

pub fn registration(site: &str) -> Registration {
    Registration {
        site_url: site.into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
    }
}

/// Registered (201) against `broker`, seeded by `seed`.
pub fn registered(broker: &str, seed: u8) -> Companion {
    let mut c = Companion::create(Config::new(broker)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(seed)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), 1_700_000_000).unwrap();
    c
}

/// Registered and connected with [`TOKEN`].
pub fn connected(broker: &str, seed: u8) -> Companion {
    let mut c = registered(broker, seed);
    let state = "cccccccccccccccccccccc";
    c.connect_url_with_state("https://shop.example/wp-admin/options-general.php?page=tessera", None, NOW, state)
        .unwrap();
    c.complete_connect(&format!("?state={state}&broker_token={TOKEN}"), NOW + 5).unwrap();
    c
}

pub fn secret_of(c: &Companion) -> Secret {
    c.state().installation.as_ref().unwrap().secret.clone()
}
