//! The vocabulary of the operation table: what an operation is, what a flag is, and how a
//! flag's value is typed and where it goes (a key of the JSON request body, or a client-side
//! setting such as `--gateway-url` that is never sent).

/// How a flag's value is read from the command line and encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One string value, sent as a JSON string.
    Str,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
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
    /// The one-letter form, where the Akeyless CLI documents one (`-n` for `--name`).
    pub short: Option<char>,
    pub kind: Kind,
    pub dest: Dest,
    pub required: bool,
    /// A secret: its value may come from stdin (`-`), a file (`@path`) or a prompt.
    pub secret: bool,
    /// Not implemented yet: hidden from help, refused unless given a default value.
    pub not_yet: Option<NotYet>,
    /// Flags that cannot be given together with this one.
    pub conflicts: &'static [&'static str],
    /// Where the flag is listed in help; `None` for the operation's own flags.
    pub heading: Option<&'static str>,
    pub help: &'static str,
}

impl Flag {
    const fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Flag {
            name,
            short: None,
            kind,
            dest: Dest::Wire(None),
            required: false,
            secret: false,
            not_yet: None,
            conflicts: &[],
            heading: None,
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

    /// Also accepted as `-<c>`.
    pub const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }

    /// Holds a secret: `-` reads stdin, `@path` a file, no value prompts on a terminal.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Accepted only with a default value until implemented; `why` says what is missing.
    pub const fn not_yet(mut self, why: &'static str) -> Self {
        self.not_yet = Some(NotYet { why, defaults: &[] });
        self
    }

    /// Like [`Flag::not_yet`], also accepting `defaults` (what other clients send by default).
    pub const fn not_yet_except(
        mut self,
        defaults: &'static [&'static str],
        why: &'static str,
    ) -> Self {
        self.not_yet = Some(NotYet { why, defaults });
        self
    }

    /// Cannot be combined with `others`.
    pub const fn conflicts(mut self, others: &'static [&'static str]) -> Self {
        self.conflicts = others;
        self
    }

    /// Listed under `heading` in help.
    pub const fn heading(mut self, heading: &'static str) -> Self {
        self.heading = Some(heading);
        self
    }
}

/// A flag the gateway does not implement yet.
#[derive(Debug, Clone, Copy)]
pub struct NotYet {
    /// What is missing, for the refusal.
    pub why: &'static str,
    /// Values accepted (and not sent) besides an empty value, `false` and `0`.
    pub defaults: &'static [&'static str],
}

impl NotYet {
    /// Whether `value` is a default, i.e. asks for nothing that is missing.
    pub fn accepts(&self, value: &str) -> bool {
        let value = value.trim();
        value.is_empty()
            || value.eq_ignore_ascii_case("false")
            || value == "0"
            || self.defaults.contains(&value)
    }
}

/// A string flag.
pub const fn string(name: &'static str, help: &'static str) -> Flag {
    Flag::new(name, Kind::Str, help)
}

/// A flag taking one of `values`.
pub const fn choice(
    name: &'static str,
    values: &'static [&'static str],
    help: &'static str,
) -> Flag {
    Flag::new(name, Kind::Choice(values), help)
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
    /// Save a local profile after checking its key; no operation is sent.
    Configure,
    /// Show the gateway, its version, who you are and your token's expiry.
    Status,
}

/// What the client adds to an operation beyond sending its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Send the flags as they are.
    Plain,
    /// An update the API applies as a full replacement: the client reads the current item and
    /// sends it with only the given flags changed.
    UpdateProducer,
    UpdateTarget,
    /// Issues AWS credentials: `--format env` and `credential-process` apply.
    IssueCredentials,
    /// Revokes temporary credentials: the answer says what was revoked.
    RevokeTmpCreds,
    /// Changes a temporary credential's lifetime: the answer says the new expiry.
    UpdateTmpCredsTtl,
    /// A paged listing: all pages unless `--pagination-token` asks for one (see `pages.rs`).
    Listing,
}

/// One operation: its names (each is also the endpoint it posts to) and its flags.
#[derive(Debug)]
pub struct Operation {
    pub names: &'static [&'static str],
    pub summary: &'static str,
    pub mode: Mode,
    pub behaviour: Behaviour,
    /// Flag groups, concatenated; groups let operations share flag lists.
    pub groups: &'static [&'static [Flag]],
}

impl Operation {
    /// Every flag of the operation, in table order.
    pub fn flags(&self) -> impl Iterator<Item = &'static Flag> + '_ {
        self.groups.iter().flat_map(|group| group.iter())
    }

    /// The name shown first (help, messages).
    pub fn primary_name(&self) -> &'static str {
        self.names.first().copied().unwrap_or_default()
    }
}
