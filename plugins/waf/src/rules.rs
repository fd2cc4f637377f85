//! Loading the Core Rule Set (and the settings' own SecLang) once per
//! configured instance.

use std::path::Path;

use portcullis_waf_engine::RuleSet;

use crate::settings::Settings;

pub fn load(settings: &Settings) -> Result<RuleSet, String> {
    let root = Path::new(&settings.rules_dir);
    let rules_dir = root.join("rules");
    let mut rules = RuleSet::new();
    let setup = ["crs-setup.conf", "crs-setup.conf.example"]
        .iter()
        .map(|name| root.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{}: no crs-setup.conf (or .example) there", root.display()))?;
    let text = read(&setup)?;
    rules
        .add(&setup.display().to_string(), &text, &rules_dir)
        .map_err(|e| e.to_string())?;
    rules
        .add("settings", &settings.setup_rules(), &rules_dir)
        .map_err(|e| e.to_string())?;
    rules.add_dir(&rules_dir).map_err(|e| e.to_string())?;
    for file in &settings.extra_rules {
        let path = Path::new(file);
        let data_dir = path.parent().unwrap_or(Path::new("/"));
        rules
            .add(file, &read(path)?, data_dir)
            .map_err(|e| e.to_string())?;
    }
    rules
        .add("exclusions", &settings.exclusion_rules(), &rules_dir)
        .map_err(|e| e.to_string())?;
    rules.finish().map_err(|e| e.to_string())?;
    Ok(rules)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
}
