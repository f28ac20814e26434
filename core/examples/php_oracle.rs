//! Test oracle: reads JSON lines {"op":..., ...} and writes one JSON result per line.
use serde_json::{Value as J, json};
use std::io::{BufRead, Write};
use tessera_core::internals::url::Url;
use tessera_core::internals::{connect, encoding, httpdate, json as tj, registration, seal, sfv, signature};
use tessera_core::*;

fn hex(b: &[u8]) -> String {
    encoding::hex(b)
}
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
fn err(e: Error) -> J {
    json!({"error": e.code(), "message": e.to_string()})
}
fn s<'a>(v: &'a J, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}
fn pairs(v: &J) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
        .collect()
}
fn bare(b: &sfv::BareItem) -> J {
    match b {
        sfv::BareItem::Integer(i) => json!(["integer", i]),
        sfv::BareItem::Decimal(i) => json!(["decimal", i]),
        sfv::BareItem::String(x) => json!(["string", x]),
        sfv::BareItem::Token(x) => json!(["token", x]),
        sfv::BareItem::ByteSeq(x) => json!(["byte_seq", hex(x)]),
        sfv::BareItem::Boolean(x) => json!(["boolean", x]),
    }
}
fn params(p: &sfv::Params) -> J {
    J::Array(p.iter().map(|(k, v)| json!([k, bare(v)])).collect())
}
fn jv(v: &tj::Value) -> J {
    match v {
        tj::Value::Null => json!(["null"]),
        tj::Value::Bool(b) => json!(["bool", b]),
        tj::Value::Number(n) => json!(["num", n, v.as_u64().map(|x| x.to_string()), v.as_i64()]),
        tj::Value::String(x) => json!(["str", hex(x.as_bytes())]),
        tj::Value::Array(a) => json!(["arr", a.iter().map(jv).collect::<Vec<_>>()]),
        tj::Value::Object(m) => {
            json!(["obj", m.iter().map(|(k, v)| json!([hex(k.as_bytes()), jv(v)])).collect::<Vec<_>>()])
        }
    }
}
fn secrets(v: &J) -> impl FnMut(&str) -> Option<Secret> + '_ {
    move |k: &str| v.get(k).and_then(|x| x.as_str()).map(|x| Secret::from_base64url(x).unwrap())
}

fn run(v: &J) -> J {
    match s(v, "op") {
        "b64" => json!([
            encoding::b64_decode(s(v, "text")).map(|b| hex(&b)),
            encoding::b64url_decode(s(v, "text")).map(|b| hex(&b))
        ]),
        "pct" => json!([encoding::pct_decode_query(s(v, "text")), encoding::parse_query(s(v, "text"))]),
        "url" => match Url::parse(s(v, "text"), "u") {
            Ok(u) => {
                let joined = v.get("tail").map(|t| match u.append_path(t.as_str().unwrap(), "p") {
                    Ok(j) => json!(j.as_string()),
                    Err(e) => err(e),
                });
                json!({"url": u.as_string(), "authority": u.authority(), "path": u.path(), "query": u.query(), "loopback": u.is_loopback(), "site": u.site_identity(), "joined": joined})
            }
            Err(e) => err(e),
        },
        "sfv" => match sfv::parse_dictionary(s(v, "text")) {
            Ok(d) => J::Array(
                d.iter()
                    .map(|(k, m)| match m {
                        sfv::Member::Item(i) => {
                            let mut w = String::new();
                            sfv::write_bare(&mut w, &i.bare);
                            sfv::write_params(&mut w, &i.params);
                            json!([k, "item", bare(&i.bare), params(&i.params), w])
                        }
                        sfv::Member::InnerList(l) => {
                            let mut w = String::new();
                            sfv::write_inner_list(&mut w, l);
                            json!([
                                k,
                                "list",
                                l.items.iter().map(|i| json!([bare(&i.bare), params(&i.params)])).collect::<Vec<_>>(),
                                params(&l.params),
                                w
                            ])
                        }
                    })
                    .collect(),
            ),
            Err(e) => json!({"error": e}),
        },
        "date" => json!([httpdate::parse(s(v, "text")), v.get("t").map(|t| httpdate::format(t.as_i64().unwrap()))]),
        "json" => match tj::parse(&unhex(s(v, "hex"))) {
            Ok(x) => jv(&x),
            Err(e) => json!({"error": e.what, "at": e.at, "message": e.to_string()}),
        },
        "jsonw" => {
            let mut o = String::new();
            tj::write_str(&mut o, s(v, "text"));
            json!(o)
        }
        "seeded" => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&unhex(s(v, "seed")));
            let mut e = SeededEntropy::new(seed);
            J::Array(
                v["lens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| {
                        let mut b = vec![0u8; n.as_u64().unwrap() as usize];
                        e.fill(&mut b);
                        json!(hex(&b))
                    })
                    .collect(),
            )
        }
        "seal" => {
            let mut n = [0u8; 24];
            n.copy_from_slice(&unhex(s(v, "nonce")));
            match seal::seal(&unhex(s(v, "pt")), &unhex(s(v, "key")), n) {
                Ok(x) => json!(x),
                Err(e) => err(e),
            }
        }
        "open" => match seal::open(s(v, "sealed"), &unhex(s(v, "key"))) {
            Ok(x) => json!(hex(&x)),
            Err(e) => err(e),
        },
        "account" => match Account::new(s(v, "id"), s(v, "name")) {
            Ok(_) => json!("ok"),
            Err(e) => err(e),
        },
        "email" => match registration::check_email(s(v, "text")) {
            Ok(()) => json!("ok"),
            Err(e) => err(e),
        },
        "site" => match registration::site_identity(s(v, "text"), "site_url") {
            Ok(x) => json!(x),
            Err(e) => err(e),
        },
        "proof" => {
            let sec = Secret::from_base64url(s(v, "secret")).unwrap();
            match registration::verify_ownership_proof(&sec, s(v, "install_id"), s(v, "challenge"), s(v, "proof")) {
                Ok(()) => json!("ok"),
                Err(e) => err(e),
            }
        }
        "classify" => {
            let r = Response {
                status: v["status"].as_u64().unwrap() as u16,
                headers: pairs(&v["headers"]),
                body: unhex(s(v, "body")),
            };
            let o = classify(&r, v["now"].as_i64().unwrap());
            let e = o.to_error(2).map(err);
            json!([o.kind.as_str(), o.status, o.code, o.retry_after_ms, o.server_date, e])
        }
        "generic" => {
            let r = Request {
                method: s(v, "method").into(),
                url: s(v, "url").into(),
                headers: pairs(&v["headers"]),
                body: vec![],
            };
            match signature::hmac_sign_generic(&r, s(v, "input"), &unhex(s(v, "key"))) {
                Ok((b, sig)) => json!([b, sig]),
                Err(e) => err(e),
            }
        }
        "verify" => {
            let mut store = MemoryReplayStore::new(v["capacity"].as_u64().unwrap_or(1024) as usize);
            let ver = Verifier { window_secs: v["window"].as_i64().unwrap_or(300) };
            let mut sf = secrets(&v["secrets"]);
            J::Array(v["requests"].as_array().unwrap().iter().map(|r| {
                let req = Request { method: s(r, "method").into(), url: s(r, "url").into(), headers: pairs(&r["headers"]), body: unhex(s(r, "body")) };
                match ver.verify(&req, r["now"].as_i64().unwrap(), &mut sf, &mut store) {
                    Ok(x) => json!({"install_id": x.install_id, "created": x.created, "expires": x.expires, "nonce": x.nonce, "idempotency_key": x.idempotency_key, "bearer": x.bearer.as_ref().map(|t| t.expose())}),
                    Err(e) => err(e),
                }
            }).collect())
        }
        "connect" => {
            let mut sf = secrets(&v["secrets"]);
            match verify_connect_url(s(v, "url"), v["now"].as_i64().unwrap(), &mut sf) {
                Ok(p) => {
                    json!({"install_id": p.install_id, "state": p.state, "return_url": p.return_url, "scope": p.scope, "ts": p.ts})
                }
                Err(e) => err(e),
            }
        }
        "ticket" => {
            let mut sf = secrets(&v["secrets"]);
            match verify_uninstall_ticket(
                s(v, "install_id"),
                s(v, "url"),
                v["now"].as_i64().unwrap(),
                v["max_age"].as_i64().unwrap(),
                &mut sf,
            ) {
                Ok(t) => json!(t),
                Err(e) => err(e),
            }
        }
        "linksig" => {
            let sec = Secret::from_base64url(s(v, "secret")).unwrap();
            let p = pairs(&v["pairs"]);
            let pr: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            json!(connect::link_signature(&sec, s(v, "context"), &pr))
        }
        op => panic!("unknown op {op}"),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let v: J = serde_json::from_str(&line.unwrap()).unwrap();
        writeln!(out, "{}", run(&v)).unwrap();
    }
}
