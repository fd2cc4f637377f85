//! OpenAPI path templates (`/pets/{petId}`): matching a request path and
//! pulling out the templated segments. Concrete paths win over templated
//! ones, as the OpenAPI specification asks.

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A whole-segment parameter, by name.
    Parameter(String),
}

/// A parsed path template.
#[derive(Debug, Clone)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parse a template from a `paths` key. Only whole-segment parameters
    /// are supported (`/a/{id}`, not `/a/{id}.json`).
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!("path `{text}` does not start with `/`"));
        }
        let segments = text[1..]
            .split('/')
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                        Ok(Segment::Parameter(name.to_string()))
                    }
                    _ if segment.contains(['{', '}']) => Err(format!(
                        "path `{text}`: only whole path segments can be parameters"
                    )),
                    _ => Ok(Segment::Literal(segment.to_string())),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { segments })
    }

    /// How concrete the template is: more literal segments sort first.
    pub fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The parameters' raw (still percent-encoded) values if `path` matches.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let rest = path.strip_prefix('/')?;
        let mut parameters = Vec::new();
        let mut parts = rest.split('/');
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                // An empty segment is no value for a path parameter.
                Segment::Parameter(_) if part.is_empty() => return None,
                Segment::Parameter(name) => parameters.push((name.as_str(), part)),
            }
        }
        parts.next().is_none().then_some(parameters)
    }
}

#[cfg(test)]
mod tests {
    use super::PathTemplate;

    #[test]
    fn templates_match_whole_segments() {
        let template = PathTemplate::parse("/pets/{petId}/toys/{toy}").expect("parses");
        assert_eq!(
            template.matches("/pets/7/toys/ball"),
            Some(vec![("petId", "7"), ("toy", "ball")])
        );
        assert_eq!(template.matches("/pets/7/toys"), None);
        assert_eq!(template.matches("/pets//toys/ball"), None);
        assert_eq!(template.matches("/pets/7/toys/ball/x"), None);
        assert_eq!(template.literal_count(), 2);
        assert!(PathTemplate::parse("/a/{id}.json").is_err());
    }
}
