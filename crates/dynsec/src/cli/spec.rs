//! The vocabulary of the operation table: what an operation is, what a flag is, and how a
//! flag's value is typed and where it goes (a key of the JSON request body, or a client-side
//! setting such as `--gateway-url` that is never sent).

/// How a flag's value is read from the command line and encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One string value, sent as a JSON string.
    Str,
    /// A boolean (`--flag`, `--flag true|false`, `--flag=true|false`), sent as a JSON bool.
    Bool,
    /// A boolean read like [`Kind::Bool`] but sent as the string `"true"`/`"false"`, as the
    /// official clients do for a few keys (`delete_protection`, `use-numbers`, ...).
    BoolText,
    /// A whole number, sent as a JSON number.
    Int,
    /// A repeatable string flag; every occurrence is appended to a JSON list.
    List,
}

impl Kind {
    /// A short placeholder for help output.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Str => "<string>",
            Kind::Bool | Kind::BoolText => "[true|false]",
            Kind::Int => "<int>",
            Kind::List => "<string> (repeatable)",
        }
    }

    /// Whether the flag may appear without a value (`--flag` alone means `true`).
    pub fn is_bool(self) -> bool {
        matches!(self, Kind::Bool | Kind::BoolText)
    }
}

/// Where a parsed flag value ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// A key of the JSON request body; `None` means "the flag's own name".
    Wire(Option<&'static str>),
    /// A client-side setting, kept under the flag's name and never sent.
    Local,
}

/// One command-line flag of an operation.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The name as typed after `--`.
    pub name: &'static str,
    pub kind: Kind,
    pub dest: Dest,
    pub required: bool,
    pub help: &'static str,
}

impl Flag {
    const fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Flag {
            name,
            kind,
            dest: Dest::Wire(None),
            required: false,
            help,
        }
    }

    /// The key this flag fills: its wire key, or its own name for local flags.
    pub fn key(&self) -> &'static str {
        match self.dest {
            Dest::Wire(Some(key)) => key,
            Dest::Wire(None) | Dest::Local => self.name,
        }
    }

    /// Sent under `key` instead of the flag's name.
    pub const fn wire(mut self, key: &'static str) -> Self {
        self.dest = Dest::Wire(Some(key));
        self
    }

    /// Consumed by the client, never sent.
    pub const fn local(mut self) -> Self {
        self.dest = Dest::Local;
        self
    }

    /// Must be given.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// A string flag.
pub const fn string(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::Str, help)
}

/// A boolean flag sent as a JSON bool.
pub const fn boolean(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::Bool, help)
}

/// A boolean flag sent as the string `"true"`/`"false"`.
pub const fn bool_text(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::BoolText, help)
}

/// An integer flag.
pub const fn int(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::Int, help)
}

/// A repeatable string flag sent as a list.
pub const fn list(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::List, help)
}

/// What the client does with an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST /auth` with the resolved access id/key; no token needed.
    Auth,
    /// Authenticate first (unless a token was given), then `POST /<operation>`.
    Authenticated,
    /// Save a local profile; no request is sent.
    Configure,
}

/// One operation: its names (each is also the endpoint it posts to) and its flags.
#[derive(Debug)]
pub struct Operation {
    pub names: &'static [&'static str],
    pub summary: &'static str,
    pub mode: Mode,
    /// Flag groups, concatenated; groups let operations share flag lists.
    pub groups: &'static [&'static [Flag]],
}

impl Operation {
    /// Every flag of the operation, in table order.
    pub fn flags(&self) -> impl Iterator<Item = &'static Flag> + '_ {
        self.groups.iter().flat_map(|group| group.iter())
    }

    /// The flag named `name`, if the operation has one.
    pub fn flag(&self, name: &str) -> Option<&'static Flag> {
        self.flags().find(|flag| flag.name == name)
    }
}
