//! Every error a client can see, with Redis 7.0's exact text. No other file
//! holds error text: handlers return an `Error`, dispatch renders it.

use std::fmt;

use crate::resp::ProtocolError;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The name and the first arguments, as the client sent them.
    UnknownCommand {
        name: Vec<u8>,
        args: Vec<Vec<u8>>,
    },
    /// Full command name, `get` or `client|setname`.
    WrongArity(String),
    /// Subcommand as sent, and the container command's name.
    UnknownSubcommand {
        sub: Vec<u8>,
        command: &'static str,
    },
    /// DEBUG's variant of the above.
    UnknownSubcommandOrArity {
        sub: Vec<u8>,
        command: &'static str,
    },
    NoAuth,
    WrongPass,
    AuthNotConfigured,
    NoProto,
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    /// `ERR <what> is out of range` (e.g. `timeout`).
    OutOfRange(&'static str),
    /// A value that must be positive was not: `ERR <what> must be positive`.
    MustBePositive(&'static str),
    Overflow,
    DecrementOverflow,
    InvalidCursor,
    /// SWAPDB's "first" or "second".
    InvalidDbIndexArg(&'static str),
    ExpireOptionsNxWithOthers,
    ExpireOptionsGtLt,
    UnsupportedOption(Vec<u8>),
    LfuNotSelected,
    LruNotSelected,
    IncrNanOrInfinity,
    /// Command name in lowercase.
    InvalidExpireTime(&'static str),
    NoSuchKey,
    DbIndexOutOfRange,
    SameObject,
    StringTooLong,
    BitOffset,
    BitValue,
    BitArgument,
    BitopNotSingleKey,
    BitfieldOverflowType,
    BitfieldInvalidType,
    BitfieldReadOnly,
    NoSuchClient,
    MaxClients,
    /// `ERR Unknown option or number of arguments for CONFIG SET - '<name>'`
    ConfigUnknown(String),
    /// CONFIG SET with a value the parameter rejects.
    ConfigSetFailed {
        name: String,
        reason: String,
    },
    /// CONFIG GET/SET of a parameter that cannot change at run time.
    ConfigImmutable(String),
    ConfigDuplicate(String),
    ConfigProtected(String),
    DebugDisabled(&'static str),
    /// A command that only exists with a feature this build has not yet.
    NotSupported(&'static str),
    Protocol(ProtocolError),
    /// An option that needs a companion option (`GETEX PERSIST EX`).
    InvalidOptionCombination,
    ClientNameSpaces,
    ClientSetinfoAttr(Vec<u8>),
    ClientSetinfoChars(&'static str),
    LcsLenAndIdx,
    NoShutdownInProgress,
    ProtocolVersionNotInteger,
    HelloSyntax(Vec<u8>),
    NoAuthHello,
    UnknownClientType(Vec<u8>),
    /// CLIENT KILL ID with a non-positive id.
    ClientIdNotPositive,
    /// CLIENT LIST ID with a malformed id.
    InvalidClientId,
    InvalidCommandSpecified,
    InvalidArgumentCount,
    NoKeyArguments,
    ShutdownNotPossible,
}

/// Redis shows at most this many bytes of a client-supplied name.
const SHOWN: usize = 128;

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            UnknownCommand { name, args } => {
                write!(f, "ERR unknown command '{}', with args beginning with: ", shown(name))?;
                // Redis lists arguments while their total stays within 128 bytes.
                let mut budget = SHOWN as isize;
                for a in args {
                    if budget <= 0 {
                        break;
                    }
                    let take = a.len().min(budget as usize);
                    write!(f, "'{}' ", String::from_utf8_lossy(&a[..take]))?;
                    budget -= a.len() as isize;
                }
                Ok(())
            }
            WrongArity(name) => write!(f, "ERR wrong number of arguments for '{name}' command"),
            UnknownSubcommand { sub, command } => {
                write!(f, "ERR unknown subcommand '{}'. Try {} HELP.", shown(sub), command.to_uppercase())
            }
            UnknownSubcommandOrArity { sub, command } => write!(
                f,
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
                shown(sub),
                command.to_uppercase()
            ),
            NoAuth => f.write_str("NOAUTH Authentication required."),
            WrongPass => f.write_str("WRONGPASS invalid username-password pair or user is disabled."),
            AuthNotConfigured => f.write_str(
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            NoProto => f.write_str("NOPROTO unsupported protocol version"),
            WrongType => f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Syntax => f.write_str("ERR syntax error"),
            NotInteger => f.write_str("ERR value is not an integer or out of range"),
            NotFloat => f.write_str("ERR value is not a valid float"),
            OutOfRange(what) => write!(f, "ERR {what} is out of range"),
            MustBePositive(what) => write!(f, "ERR {what} must be positive"),
            Overflow => f.write_str("ERR increment or decrement would overflow"),
            DecrementOverflow => f.write_str("ERR decrement would overflow"),
            InvalidCursor => f.write_str("ERR invalid cursor"),
            InvalidDbIndexArg(which) => write!(f, "ERR invalid {which} DB index"),
            ExpireOptionsNxWithOthers => {
                f.write_str("ERR NX and XX, GT or LT options at the same time are not compatible")
            }
            ExpireOptionsGtLt => f.write_str("ERR GT and LT options at the same time are not compatible"),
            UnsupportedOption(opt) => write!(f, "ERR Unsupported option {}", shown(opt)),
            LfuNotSelected => f.write_str(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ),
            LruNotSelected => f.write_str(
                "ERR An LRU maxmemory policy is not selected, access time not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ),
            IncrNanOrInfinity => f.write_str("ERR increment would produce NaN or Infinity"),
            InvalidExpireTime(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            NoSuchKey => f.write_str("ERR no such key"),
            DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            SameObject => f.write_str("ERR source and destination objects are the same"),
            StringTooLong => f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            BitOffset => f.write_str("ERR bit offset is not an integer or out of range"),
            BitValue => f.write_str("ERR bit is not an integer or out of range"),
            BitArgument => f.write_str("ERR The bit argument must be 1 or 0."),
            BitopNotSingleKey => f.write_str("ERR BITOP NOT must be called with a single source key."),
            BitfieldOverflowType => f.write_str("ERR Invalid OVERFLOW type specified"),
            BitfieldInvalidType => f.write_str(
                "ERR Invalid bitfield type. Use something like i16 u8. \
                 Note that u64 is not supported but i64 is.",
            ),
            BitfieldReadOnly => f.write_str("ERR BITFIELD_RO only supports the GET subcommand"),
            NoSuchClient => f.write_str("ERR No such client"),
            MaxClients => f.write_str("ERR max number of clients reached"),
            ConfigUnknown(name) => {
                write!(f, "ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            ConfigSetFailed { name, reason } => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
            }
            ConfigImmutable(name) => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
            }
            ConfigProtected(name) => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config")
            }
            ConfigDuplicate(name) => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter")
            }
            DebugDisabled(cmd) => write!(
                f,
                "ERR {cmd} command not allowed. If the enable-debug-command option is set to \"local\", \
                 you can run it from a local connection, otherwise you need to set this option in the \
                 configuration file, and then restart the server."
            ),
            NotSupported(what) => write!(f, "ERR {what} is not supported by this server yet"),
            Protocol(p) => f.write_str(&protocol_text(*p)),
            InvalidOptionCombination => f.write_str("ERR syntax error"),
            ClientNameSpaces => f.write_str("ERR Client names cannot contain spaces, newlines or special characters."),
            ClientSetinfoAttr(attr) => write!(f, "ERR Unrecognized option '{}'", shown(attr)),
            ClientSetinfoChars(attr) => write!(f, "ERR {attr} cannot contain spaces, newlines or special characters."),
            LcsLenAndIdx => f.write_str("ERR If you want both the length and indexes, please just use IDX."),
            NoShutdownInProgress => f.write_str("ERR No shutdown in progress."),
            ProtocolVersionNotInteger => f.write_str("ERR Protocol version is not an integer or out of range"),
            HelloSyntax(word) => write!(f, "ERR Syntax error in HELLO option '{}'", shown(word)),
            NoAuthHello => f.write_str(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            ),
            UnknownClientType(t) => write!(f, "ERR Unknown client type '{}'", shown(t)),
            ClientIdNotPositive => f.write_str("ERR client-id should be greater than 0"),
            InvalidClientId => f.write_str("ERR Invalid client ID"),
            InvalidCommandSpecified => f.write_str("ERR Invalid command specified"),
            InvalidArgumentCount => f.write_str("ERR Invalid number of arguments specified for command"),
            NoKeyArguments => f.write_str("ERR The command has no key arguments"),
            ShutdownNotPossible => f.write_str("ERR Errors trying to SHUTDOWN. Check logs."),
        }
    }
}

fn protocol_text(p: ProtocolError) -> String {
    use ProtocolError::*;
    let what = match p {
        InvalidMultibulkLength => "invalid multibulk length".to_string(),
        InvalidBulkLength => "invalid bulk length".to_string(),
        ExpectedDollar(c) => format!("expected '$', got '{}'", c as char),
        TooBigMultibulkCount => "too big mbulk count string".to_string(),
        TooBigBulkCount => "too big bulk count string".to_string(),
        TooBigInline => "too big inline request".to_string(),
        UnbalancedQuotes => "unbalanced quotes in request".to_string(),
        UnauthenticatedMultibulkLength => "unauthenticated multibulk length".to_string(),
        UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
    };
    format!("ERR Protocol error: {what}")
}

impl From<ProtocolError> for Error {
    fn from(p: ProtocolError) -> Self {
        Error::Protocol(p)
    }
}

pub type CmdResult = Result<(), Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let e = Error::UnknownCommand { name: b"foo".to_vec(), args: vec![b"a".to_vec(), b"b".to_vec()] };
        assert_eq!(e.to_string(), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
        assert_eq!(
            Error::UnknownSubcommand { sub: b"foo".to_vec(), command: "client" }.to_string(),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
        assert_eq!(
            Error::Protocol(ProtocolError::ExpectedDollar(b'f')).to_string(),
            "ERR Protocol error: expected '$', got 'f'"
        );
    }
}
