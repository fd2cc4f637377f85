//! `waf`: placeholder
