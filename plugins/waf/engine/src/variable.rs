//! The variables (and collections) a rule can inspect, by their SecLang names.

/// One SecLang variable. Collections hold many (name, value) pairs and can be
/// narrowed with a selector; the others hold a single value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    Args,
    ArgsNames,
    ArgsGet,
    ArgsGetNames,
    ArgsPost,
    ArgsPostNames,
    ArgsCombinedSize,
    Files,
    FilesNames,
    FilesSizes,
    FilesCombinedSize,
    MultipartPartHeaders,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    RequestFilename,
    RequestBasename,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    RequestUri,
    RequestUriRaw,
    QueryString,
    RequestBody,
    RequestBodyLength,
    ReqbodyProcessor,
    ReqbodyError,
    Xml,
    Tx,
    RemoteAddr,
    UniqueId,
    MatchedVar,
    MatchedVarName,
    MatchedVars,
    MatchedVarsNames,
    ResponseHeaders,
    ResponseHeadersNames,
    ResponseBody,
    ResponseStatus,
    ResponseProtocol,
    ResponseContentType,
    /// Collections this engine keeps no data in (IP, GLOBAL, SESSION ...
    /// persistent storage): they read as empty, as in a fresh ModSecurity.
    Empty,
}

impl Variable {
    /// The variable for a SecLang name (case-insensitive), or None.
    pub fn from_name(name: &str) -> Option<Self> {
        let upper = name.to_ascii_uppercase();
        Some(match upper.as_str() {
            "ARGS" => Self::Args,
            "ARGS_NAMES" => Self::ArgsNames,
            "ARGS_GET" => Self::ArgsGet,
            "ARGS_GET_NAMES" => Self::ArgsGetNames,
            "ARGS_POST" => Self::ArgsPost,
            "ARGS_POST_NAMES" => Self::ArgsPostNames,
            "ARGS_COMBINED_SIZE" => Self::ArgsCombinedSize,
            "FILES" => Self::Files,
            "FILES_NAMES" => Self::FilesNames,
            "FILES_SIZES" => Self::FilesSizes,
            "FILES_COMBINED_SIZE" => Self::FilesCombinedSize,
            "MULTIPART_PART_HEADERS" => Self::MultipartPartHeaders,
            "REQUEST_HEADERS" => Self::RequestHeaders,
            "REQUEST_HEADERS_NAMES" => Self::RequestHeadersNames,
            "REQUEST_COOKIES" => Self::RequestCookies,
            "REQUEST_COOKIES_NAMES" => Self::RequestCookiesNames,
            "REQUEST_FILENAME" => Self::RequestFilename,
            "REQUEST_BASENAME" => Self::RequestBasename,
            "REQUEST_LINE" => Self::RequestLine,
            "REQUEST_METHOD" => Self::RequestMethod,
            "REQUEST_PROTOCOL" => Self::RequestProtocol,
            "REQUEST_URI" => Self::RequestUri,
            "REQUEST_URI_RAW" => Self::RequestUriRaw,
            "QUERY_STRING" => Self::QueryString,
            "REQUEST_BODY" => Self::RequestBody,
            "REQUEST_BODY_LENGTH" => Self::RequestBodyLength,
            "REQBODY_PROCESSOR" => Self::ReqbodyProcessor,
            "REQBODY_ERROR" => Self::ReqbodyError,
            "XML" => Self::Xml,
            "TX" => Self::Tx,
            "REMOTE_ADDR" => Self::RemoteAddr,
            "UNIQUE_ID" => Self::UniqueId,
            "MATCHED_VAR" => Self::MatchedVar,
            "MATCHED_VAR_NAME" => Self::MatchedVarName,
            "MATCHED_VARS" => Self::MatchedVars,
            "MATCHED_VARS_NAMES" => Self::MatchedVarsNames,
            "RESPONSE_HEADERS" => Self::ResponseHeaders,
            "RESPONSE_HEADERS_NAMES" => Self::ResponseHeadersNames,
            "RESPONSE_BODY" => Self::ResponseBody,
            "RESPONSE_STATUS" => Self::ResponseStatus,
            "RESPONSE_PROTOCOL" => Self::ResponseProtocol,
            "RESPONSE_CONTENT_TYPE" => Self::ResponseContentType,
            "IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE" | "ENV" | "GEO" => Self::Empty,
            _ => return None,
        })
    }

    /// The name used in MATCHED_VAR_NAME and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Args => "ARGS",
            Self::ArgsNames => "ARGS_NAMES",
            Self::ArgsGet => "ARGS_GET",
            Self::ArgsGetNames => "ARGS_GET_NAMES",
            Self::ArgsPost => "ARGS_POST",
            Self::ArgsPostNames => "ARGS_POST_NAMES",
            Self::ArgsCombinedSize => "ARGS_COMBINED_SIZE",
            Self::Files => "FILES",
            Self::FilesNames => "FILES_NAMES",
            Self::FilesSizes => "FILES_SIZES",
            Self::FilesCombinedSize => "FILES_COMBINED_SIZE",
            Self::MultipartPartHeaders => "MULTIPART_PART_HEADERS",
            Self::RequestHeaders => "REQUEST_HEADERS",
            Self::RequestHeadersNames => "REQUEST_HEADERS_NAMES",
            Self::RequestCookies => "REQUEST_COOKIES",
            Self::RequestCookiesNames => "REQUEST_COOKIES_NAMES",
            Self::RequestFilename => "REQUEST_FILENAME",
            Self::RequestBasename => "REQUEST_BASENAME",
            Self::RequestLine => "REQUEST_LINE",
            Self::RequestMethod => "REQUEST_METHOD",
            Self::RequestProtocol => "REQUEST_PROTOCOL",
            Self::RequestUri => "REQUEST_URI",
            Self::RequestUriRaw => "REQUEST_URI_RAW",
            Self::QueryString => "QUERY_STRING",
            Self::RequestBody => "REQUEST_BODY",
            Self::RequestBodyLength => "REQUEST_BODY_LENGTH",
            Self::ReqbodyProcessor => "REQBODY_PROCESSOR",
            Self::ReqbodyError => "REQBODY_ERROR",
            Self::Xml => "XML",
            Self::Tx => "TX",
            Self::RemoteAddr => "REMOTE_ADDR",
            Self::UniqueId => "UNIQUE_ID",
            Self::MatchedVar => "MATCHED_VAR",
            Self::MatchedVarName => "MATCHED_VAR_NAME",
            Self::MatchedVars => "MATCHED_VARS",
            Self::MatchedVarsNames => "MATCHED_VARS_NAMES",
            Self::ResponseHeaders => "RESPONSE_HEADERS",
            Self::ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
            Self::ResponseBody => "RESPONSE_BODY",
            Self::ResponseStatus => "RESPONSE_STATUS",
            Self::ResponseProtocol => "RESPONSE_PROTOCOL",
            Self::ResponseContentType => "RESPONSE_CONTENT_TYPE",
            Self::Empty => "EMPTY",
        }
    }

    /// For `*_NAMES` variables, the collection whose keys they list.
    pub fn names_of(self) -> Option<Variable> {
        Some(match self {
            Self::ArgsNames => Self::Args,
            Self::ArgsGetNames => Self::ArgsGet,
            Self::ArgsPostNames => Self::ArgsPost,
            Self::RequestHeadersNames => Self::RequestHeaders,
            Self::RequestCookiesNames => Self::RequestCookies,
            Self::ResponseHeadersNames => Self::ResponseHeaders,
            Self::MatchedVarsNames => Self::MatchedVars,
            _ => return None,
        })
    }

    /// Whether its values stay fixed while one part of the request (head,
    /// body, response) is inspected: what the transformation cache and the
    /// prefilter may rely on. Anything rules write (TX, matches) or that
    /// depends on the body processor is not.
    pub fn is_fixed(self) -> bool {
        matches!(
            self,
            Self::Args
                | Self::ArgsNames
                | Self::ArgsGet
                | Self::ArgsGetNames
                | Self::ArgsPost
                | Self::ArgsPostNames
                | Self::Files
                | Self::FilesNames
                | Self::FilesSizes
                | Self::MultipartPartHeaders
                | Self::RequestHeaders
                | Self::RequestHeadersNames
                | Self::RequestCookies
                | Self::RequestCookiesNames
                | Self::ResponseHeaders
                | Self::ResponseHeadersNames
                | Self::Xml
                | Self::RequestFilename
                | Self::RequestBasename
                | Self::RequestLine
                | Self::RequestMethod
                | Self::RequestProtocol
                | Self::RequestUri
                | Self::RequestUriRaw
                | Self::QueryString
                | Self::RemoteAddr
                | Self::UniqueId
        )
    }
}
