//! What admitting a signed upload URL costs: parsing its query and
//! checking its HMAC-SHA256, natively (target: 2 µs).

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use portcullis_host::uploads::{SignedUploads, UploadKey, unix_now};

const SECRET: &[u8] = b"upload-key-for-benchmarks-0123456789";

fn bench(c: &mut Criterion) {
    let path = "/uploads/2026/11/28/customer-42/video-recording.mp4";
    let query = UploadKey::new(SECRET).sign(
        "PUT",
        "api.example.com",
        path,
        unix_now() + 3600,
        1 << 30,
        Some("video/mp4"),
    );
    let key = UploadKey::new(SECRET);
    assert!(
        key.verify("PUT", "api.example.com", path, Some(&query), unix_now())
            .is_ok()
    );
    c.bench_function("signed_url_verify", |b| {
        b.iter(|| {
            key.verify("PUT", "api.example.com", path, Some(&query), unix_now())
                .is_ok()
        })
    });

    let uploads = SignedUploads::new(UploadKey::new(SECRET), true);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("209715200"));
    assert!(matches!(
        uploads.admit(
            "PUT",
            "api.example.com",
            path,
            Some(&query),
            &headers,
            unix_now()
        ),
        Ok(Some(_))
    ));
    c.bench_function("signed_url_admit", |b| {
        b.iter(|| {
            uploads
                .admit(
                    "PUT",
                    "api.example.com",
                    path,
                    Some(&query),
                    &headers,
                    unix_now(),
                )
                .is_ok()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
