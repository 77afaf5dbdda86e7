//! Requests ready to send: the API's base URL parsed once ([`Endpoint`]), and each request's
//! method, URL and body bytes built once ([`Prepared`]) so that every attempt of it (retries
//! included) sends the same bytes without copying them again.

use std::sync::Arc;

use bytes::Bytes;
use http::Uri;
use reqwest::Url;

use super::requests::{ApiRequest, Method};

/// The batch endpoint every POST and PUT goes to: joined once, then cloned.
const BATCH: &str = "/triples/batch?validate=true";

/// The API's base URL, parsed once.
///
/// A request's URL is the base's text followed by the request's path (`format!("{base}{path}")`
/// before this type existed): parsing that string for every request re-ran the whole parser,
/// host normalisation included, which a profile showed at 5 % of the client's CPU. Here the
/// host is parsed once; the batch URL is kept ready, and any other path is joined onto the
/// base's path with `Url::set_path`, which percent-encodes exactly as the parser does.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The base URL as given, without a trailing `/`.
    text: String,
    /// `None` when the base does not parse (the CLI rejects such a base; a library caller gets
    /// reqwest's own error from every attempt, as before).
    base: Option<Url>,
    /// Shared by every request to it: a request holds a reference, not a copy of its text.
    batch: Option<Arc<Url>>,
    /// The batch URL's path and query, as the replay's own connections send it.
    batch_target: Option<Uri>,
}

impl Endpoint {
    pub fn new(base_url: &str) -> Endpoint {
        let text = base_url.trim_end_matches('/').to_string();
        let base = Url::parse(&text)
            .ok()
            .filter(|url| !url.cannot_be_a_base() && url.query().is_none());
        let mut endpoint = Endpoint {
            text,
            base,
            batch: None,
            batch_target: None,
        };
        endpoint.batch = endpoint.join(BATCH).ok().map(Arc::new);
        endpoint.batch_target = endpoint.batch.as_deref().and_then(origin_form);
        endpoint
    }

    /// The parsed base URL, if it parses and can be a base.
    pub fn base(&self) -> Option<&Url> {
        self.base.as_ref()
    }

    /// The origin-form target (path and query) of `url`, the URL of `path`.
    fn target(&self, path: &str, url: &Result<Arc<Url>, String>) -> Option<Uri> {
        match (&self.batch_target, url) {
            (Some(batch), _) if path == BATCH => Some(batch.clone()),
            (_, Ok(url)) => origin_form(url),
            (_, Err(_)) => None,
        }
    }

    /// The base URL as given, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL of `path` (path and query, starting with `/`), or the text to hand reqwest when
    /// the base cannot be parsed.
    pub fn url(&self, path: &str) -> Result<Url, String> {
        self.shared_url(path).map(Arc::unwrap_or_clone)
    }

    /// [`Endpoint::url`], the batch URL shared rather than copied.
    fn shared_url(&self, path: &str) -> Result<Arc<Url>, String> {
        match &self.batch {
            Some(batch) if path == BATCH => Ok(batch.clone()),
            _ => self.join(path).map(Arc::new),
        }
    }

    fn join(&self, path: &str) -> Result<Url, String> {
        let Some(base) = &self.base else {
            return Err(format!("{}{path}", self.text));
        };
        if !path.starts_with('/') || path.contains('#') {
            // Not a plain path: let the parser read the whole text, as it always did.
            return Url::parse(&format!("{}{path}", self.text))
                .map_err(|_| self.text.clone() + path);
        }
        let (path_part, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let mut url = base.clone();
        let prefix = base.path().trim_end_matches('/');
        if prefix.is_empty() {
            url.set_path(path_part);
        } else {
            url.set_path(&format!("{prefix}{path_part}"));
        }
        url.set_query(query);
        Ok(url)
    }
}

/// `url`'s path and query, the request target of an HTTP/1.1 request to its origin.
fn origin_form(url: &Url) -> Option<Uri> {
    let query = url.query();
    let mut target = String::with_capacity(url.path().len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(url.path());
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    Uri::try_from(target).ok()
}

/// One request, ready for any number of attempts: cloning it shares the body's bytes.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub method: Method,
    /// Path and query as the request names them (failure details and logs show this).
    pub path: String,
    /// The parsed URL, or the text reqwest is given to report its own error. Shared: the
    /// batch endpoint's URL is the same for nearly every request (a copy per request was an
    /// allocation and a copy of its text, and a free).
    pub url: Result<Arc<Url>, String>,
    /// The URL's path and query (`None` when the URL does not parse), which the replay's own
    /// connections send: the batch endpoint's is parsed once per endpoint, and shared.
    pub target: Option<Uri>,
    /// The JSON body: the request's `String`, taken without a copy.
    pub body: Option<Bytes>,
}

impl Prepared {
    pub fn new(endpoint: &Endpoint, request: ApiRequest) -> Prepared {
        let url = endpoint.shared_url(&request.path);
        Prepared {
            method: request.method,
            target: endpoint.target(&request.path, &url),
            url,
            path: request.path,
            body: request.body.map(Bytes::from),
        }
    }

    /// The method as reqwest names it.
    pub fn http_method(&self) -> reqwest::Method {
        match self.method {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the URL was before: the base's text and the path, parsed together.
    fn parsed_whole(base: &str, path: &str) -> String {
        Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
            .unwrap()
            .to_string()
    }

    #[test]
    fn joined_urls_are_those_the_whole_text_parses_to() {
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://api.example.com",
            "http://Example.COM:80/prefix",
            "http://user:secret@localhost:9/api/v1/",
        ];
        let paths = [
            BATCH,
            "/triples/batch",
            "/triples/subjects/orderline:LG-r1-000007-01",
            "/triples/subjects/order:LG-a b-000001",
            "/triples/subjects/customer:ä%20x",
            "/triples/subjects/../x",
            "/triples/subjects/a?b=c d",
            "/health",
        ];
        for base in bases {
            let endpoint = Endpoint::new(base);
            for path in paths {
                let url = endpoint.url(path).unwrap();
                assert_eq!(url.as_str(), parsed_whole(base, path), "{base} + {path}");
                // The target sent on the replay's own connections is that URL's path+query.
                let target = endpoint.target(path, &Ok(Arc::new(url.clone()))).unwrap();
                let whole = Url::parse(&parsed_whole(base, path)).unwrap();
                let expected = match whole.query() {
                    Some(q) => format!("{}?{q}", whole.path()),
                    None => whole.path().to_string(),
                };
                assert_eq!(target, expected.as_str(), "{base} + {path}");
            }
        }
    }

    #[test]
    fn an_unparsable_base_is_handed_on_as_text() {
        let endpoint = Endpoint::new("not a url/");
        assert_eq!(endpoint.as_str(), "not a url");
        assert_eq!(
            endpoint.url(BATCH),
            Err(format!("not a url{BATCH}")),
            "reqwest reports the error of the same text as before"
        );
    }

    #[test]
    fn a_prepared_body_is_the_request_string_shared_by_every_clone() {
        let body = String::from(r#"[{"subject_id":"order:LG-x-000001"}]"#);
        let prepared = Prepared::new(
            &Endpoint::new("http://127.0.0.1:1"),
            ApiRequest {
                method: Method::Put,
                path: BATCH.into(),
                body: Some(body.clone()),
            },
        );
        let retry = prepared.clone();
        let (first, second) = (prepared.body.unwrap(), retry.body.clone().unwrap());
        assert_eq!(&first[..], body.as_bytes());
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "a retry sends the same buffer"
        );
        assert_eq!(retry.http_method(), reqwest::Method::PUT);
        assert_eq!(
            retry.url.unwrap().as_str(),
            "http://127.0.0.1:1/triples/batch?validate=true"
        );
        assert_eq!(retry.target.unwrap(), "/triples/batch?validate=true");
    }

    #[test]
    fn taking_the_body_does_not_copy_it() {
        let body = String::from("[]").repeat(1000);
        let address = body.as_ptr();
        let prepared = Prepared::new(
            &Endpoint::new("http://127.0.0.1:1"),
            ApiRequest {
                method: Method::Post,
                path: BATCH.into(),
                body: Some(body),
            },
        );
        assert_eq!(prepared.body.unwrap().as_ptr(), address);
    }
}
