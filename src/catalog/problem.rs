//! What can be wrong with a migrations folder, each problem naming its file.

use std::fmt;

use serde::Serialize;

/// The kinds of layout problem. `id()` is stable: it is the id of the linter rule that
/// `runner check` reports the problem under, so both commands name it the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A name that is not `V{n}__{name}.sql` / `.down.sql`, including `U`/`R` prefixes and `.up.sql`.
    InvalidName,
    /// A `.sql` file in a subfolder: the folder is flat.
    Subfolder,
    /// Two forward files with one version.
    DuplicateVersion,
    /// A `.down.sql` with no forward file of the same stem.
    OrphanRollback,
    /// The file is not UTF-8.
    NotUtf8,
    /// The file is empty or only whitespace.
    EmptyFile,
    /// The file could not be read.
    Unreadable,
    /// A `-- runner:` directive that cannot be honoured.
    InvalidDirective,
    /// `-- runner:irreversible` and a `.down.sql` for the same migration.
    IrreversibleWithRollback,
    /// A file that is not SQL; it is ignored, and said so.
    NotSql,
}

impl ProblemKind {
    pub fn id(self) -> &'static str {
        match self {
            ProblemKind::InvalidName | ProblemKind::Subfolder => "invalid-migration-name",
            ProblemKind::DuplicateVersion => "duplicate-version",
            ProblemKind::OrphanRollback => "orphan-rollback",
            ProblemKind::NotUtf8 | ProblemKind::EmptyFile | ProblemKind::Unreadable => {
                "invalid-file"
            }
            ProblemKind::InvalidDirective | ProblemKind::IrreversibleWithRollback => {
                "invalid-directive"
            }
            ProblemKind::NotSql => "not-a-migration",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            ProblemKind::NotSql => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem: the file (relative to the migrations folder), the line when it has one, and a
/// message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, file: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn is_error(&self) -> bool {
        self.kind.severity() == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {} [{}]", self.message, self.kind.id())
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Problem", 5)?;
        s.serialize_field("kind", self.kind.id())?;
        s.serialize_field("severity", &self.kind.severity())?;
        s.serialize_field("file", &self.file)?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}
