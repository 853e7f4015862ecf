//! Every error a client can see, with Redis 7.0's exact text. No other file
//! holds error text: handlers return an `Error`, dispatch renders it.

use std::fmt;
use std::io::Write;

/// The OOM refusal, also raised from scripts.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// A client's write refused by a read-only replica.
pub const READ_ONLY_REPLICA: &str = "READONLY You can't write against a read only replica.";
/// A write refused for want of replicas (min-replicas-to-write).
pub const NO_REPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

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
    /// A command that may grow memory, refused above maxmemory.
    Oom,
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
    LfuSelected,
    /// Fewer good replicas than min-replicas-to-write.
    NoReplicas,
    /// A client's write on a read-only replica.
    ReadOnlyReplica,
    /// A replica without its primary, told not to serve stale data.
    MasterDown,
    /// WAIT on a replica.
    WaitOnReplica,
    NoMasterLink,
    SyncWhileFailingOver,
    PsyncFailoverReplid,
    PsyncFailoverToMaster,
    FailoverForce,
    FailoverOnReplica,
    FailoverNoReplicas,
    FailoverInProgress,
    FailoverNotAReplica,
    FailoverNotOnline,
    FailoverTimeout,
    NoFailover,
    /// A command not allowed while a replica loads its snapshot.
    Loading,
    /// REPLICAOF with a port that is not one.
    InvalidMasterPort,
    /// REPLCONF with an option it does not know.
    ReplconfOption(Vec<u8>),
    IncrNanOrInfinity,
    NanOrInfinity,
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
    NoSuchUser(Vec<u8>),
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
    NoConfigFile,
    RewriteFailed(String),
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
    LcsNotStrings,
    HashValueNotInteger,
    /// A count that must lie within ±i64::MAX.
    CountOutOfRange,
    ValueOutOfRange,
    MustBePositiveRange,
    NumkeysNotPositive,
    NumkeysTooMany,
    LimitNegative,
    IndexOutOfRange,
    RankZero,
    CountNegative,
    MaxlenNegative,
    CountNotPositive,
    ZaddNxXx,
    ZaddGtLtNx,
    ZaddIncrPair,
    ZsetNan,
    /// A score or lex range bound Redis cannot read.
    MinMaxNotFloat,
    MinMaxNotString,
    WeightNotFloat,
    /// Full command name (`zunionstore`).
    AtLeastOneInputKey(&'static str),
    LimitNeedsByScoreOrLex,
    WithScoresWithByLex,
    HashValueNotFloat,
    TimeoutNotFloat,
    TimeoutNegative,
    /// WAIT's timeout is not an integer.
    TimeoutNotInteger,
    SortNotDouble,
    /// The reply of a client freed by CLIENT UNBLOCK ... ERROR.
    Unblocked,
    UnblockReason,
    /// A blocked client's answer when its server becomes a replica.
    UnblockedRoleChange,
    PauseMode,
    NoShutdownInProgress,
    /// Redis's bare `ERR` (a SAVE that failed, a fork that failed).
    Bare,
    BgsaveInProgress,
    /// Writes refused after a failed save (stop-writes-on-bgsave-error).
    MisConf,
    /// Writes refused while the AOF cannot be written, and why.
    MisConfAof(String),
    BgsaveDuringRewrite,
    RewriteInProgress,
    BusyKey,
    InvalidTtl,
    DumpPayload,
    BadDataFormat,
    InvalidIdletime,
    InvalidFreq,
    /// SHUTDOWN could not save.
    ShutdownSaveFailed,
    DebugReloadOption,
    DebugReloadFailed,
    /// A bug: a handler panicked.
    Internal,
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
    MultiNested,
    WatchInMulti,
    ExecWithoutMulti,
    DiscardWithoutMulti,
    /// EXEC after a command was refused while queuing.
    ExecAbort,
    /// EXEC itself refused inside MULTI: the reason, without its "ERR ".
    ExecAbortBecause(Vec<u8>),
    NotInTransaction,
    /// A command other than (P)(UN)SUBSCRIBE, PING, QUIT, RESET while
    /// subscribed: the command's full name.
    SubscribedContext(String),
    NegativeNumKeys,
    TooManyNumKeys,
    NoScript,
    /// A script's error reply, complete (code and text).
    Script(Vec<u8>),
    ScriptFlushOption,
    NotBusy,
    Busy,
    BusyFunction,
    FunctionNotFound,
    FunctionWriteInRo,
    LibraryMetadataMissing,
    LibraryMetadataInvalid(String),
    LibraryNameRepeated,
    EngineNotFound(String),
    LibraryNameMissing,
    LibraryNameInvalid,
    NoFunctionsRegistered,
    BadNumberOfKeys,
    /// FUNCTION LOAD's option; shown up to a NUL (Redis prints it as a C
    /// string).
    FunctionLoadOption(Vec<u8>),
    LibraryExists(String),
    /// FUNCTION RESTORE's wording of the above.
    RestoredLibraryExists(String),
    FunctionExists(String),
    RestorePolicy,
    /// A FUNCTION RESTORE payload that holds something else.
    NotAFunction,
    LibraryNotFound,
    FunctionFlushOption,
    LibraryPatternMissing,
    /// FUNCTION LIST's argument; shown up to a NUL.
    FunctionListArgument(Vec<u8>),
    Unkillable,
}

/// Redis shows at most this many bytes of a client-supplied name.
const SHOWN: usize = 128;

/// A client-supplied name as Redis's `%.128s` shows it: at most 128 bytes,
/// ending at the first NUL, bytes as they are.
fn shown(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(SHOWN);
    &bytes[..end]
}

fn write_str(f: &mut Vec<u8>, text: &str) -> std::io::Result<()> {
    f.write_all(text.as_bytes())
}

/// Writes `before`, the shown name, then `after`.
fn with_name(f: &mut Vec<u8>, before: &str, name: &[u8], after: &str) -> std::io::Result<()> {
    f.write_all(before.as_bytes())?;
    f.write_all(shown(name))?;
    f.write_all(after.as_bytes())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl Error {
    /// The error line's text as bytes (client-supplied names are shown as
    /// sent, which need not be UTF-8).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.render(&mut out).expect("writing to a Vec cannot fail");
        out
    }

    fn render(&self, f: &mut Vec<u8>) -> std::io::Result<()> {
        use Error::*;
        match self {
            UnknownCommand { name, args } => {
                with_name(f, "ERR unknown command '", name, "', with args beginning with: ")?;
                // Redis adds arguments while the list it built is under 128
                // bytes, each cut to what is left of them.
                let mut listed: Vec<u8> = Vec::new();
                for a in args {
                    if listed.len() >= SHOWN {
                        break;
                    }
                    let room = SHOWN - listed.len();
                    let a = shown(a);
                    listed.push(b'\'');
                    listed.extend_from_slice(&a[..a.len().min(room)]);
                    listed.extend_from_slice(b"' ");
                }
                f.write_all(&listed)
            }
            WrongArity(name) => write!(f, "ERR wrong number of arguments for '{name}' command"),
            UnknownSubcommand { sub, command } => {
                with_name(f, "ERR unknown subcommand '", sub, &format!("'. Try {} HELP.", command.to_uppercase()))
            }
            UnknownSubcommandOrArity { sub, command } => with_name(
                f,
                "ERR unknown subcommand or wrong number of arguments for '",
                sub,
                &format!("'. Try {} HELP.", command.to_uppercase()),
            ),
            NoAuth => write_str(f, "NOAUTH Authentication required."),
            Oom => write_str(f, OOM),
            WrongPass => write_str(f, "WRONGPASS invalid username-password pair or user is disabled."),
            AuthNotConfigured => write_str(
                f,
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            NoProto => write_str(f, "NOPROTO unsupported protocol version"),
            WrongType => write_str(f, "WRONGTYPE Operation against a key holding the wrong kind of value"),
            Syntax => write_str(f, "ERR syntax error"),
            NotInteger => write_str(f, "ERR value is not an integer or out of range"),
            NotFloat => write_str(f, "ERR value is not a valid float"),
            OutOfRange(what) => write!(f, "ERR {what} is out of range"),
            MustBePositive(what) => write!(f, "ERR {what} must be positive"),
            Overflow => write_str(f, "ERR increment or decrement would overflow"),
            DecrementOverflow => write_str(f, "ERR decrement would overflow"),
            InvalidCursor => write_str(f, "ERR invalid cursor"),
            InvalidDbIndexArg(which) => write!(f, "ERR invalid {which} DB index"),
            ExpireOptionsNxWithOthers => {
                write_str(f, "ERR NX and XX, GT or LT options at the same time are not compatible")
            }
            ExpireOptionsGtLt => write_str(f, "ERR GT and LT options at the same time are not compatible"),
            UnsupportedOption(opt) => with_name(f, "ERR Unsupported option ", opt, ""),
            LfuNotSelected => write_str(
                f,
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ),
            NoReplicas => write_str(f, NO_REPLICAS),
            ReadOnlyReplica => write_str(f, READ_ONLY_REPLICA),
            Loading => write_str(f, "LOADING Redis is loading the dataset in memory"),
            NoMasterLink => write_str(f, "NOMASTERLINK Can't SYNC while not connected with my master"),
            SyncWhileFailingOver => write_str(f, "NOMASTERLINK Can't SYNC while failing over"),
            PsyncFailoverReplid => write_str(f, "ERR PSYNC FAILOVER replid must match my replid."),
            PsyncFailoverToMaster => write_str(f, "ERR PSYNC FAILOVER can't be sent to a master."),
            FailoverForce => {
                write_str(f, "ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
            }
            FailoverOnReplica => write_str(f, "ERR FAILOVER is not valid when server is a replica."),
            FailoverNoReplicas => write_str(f, "ERR FAILOVER requires connected replicas."),
            FailoverInProgress => write_str(f, "ERR FAILOVER already in progress."),
            FailoverNotAReplica => write_str(f, "ERR FAILOVER target HOST and PORT is not a replica."),
            FailoverNotOnline => write_str(f, "ERR FAILOVER target replica is not online."),
            FailoverTimeout => write_str(f, "ERR FAILOVER timeout must be greater than 0"),
            NoFailover => write_str(f, "ERR No failover in progress."),
            WaitOnReplica => write_str(
                f,
                "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a \
                 replica is configured to be writable (which is not the default) writes to replicas are just \
                 local and are not propagated.",
            ),
            MasterDown => {
                write_str(f, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
            }
            InvalidMasterPort => write_str(f, "ERR Invalid master port"),
            ReplconfOption(opt) => with_name(f, "ERR Unrecognized REPLCONF option: ", opt, ""),
            LfuSelected => write_str(
                f,
                "ERR An LFU maxmemory policy is selected, idle time not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ),
            NanOrInfinity => write_str(f, "ERR value is NaN or Infinity"),
            IncrNanOrInfinity => write_str(f, "ERR increment would produce NaN or Infinity"),
            InvalidExpireTime(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            NoSuchKey => write_str(f, "ERR no such key"),
            MultiNested => write_str(f, "ERR MULTI calls can not be nested"),
            WatchInMulti => write_str(f, "ERR WATCH inside MULTI is not allowed"),
            ExecWithoutMulti => write_str(f, "ERR EXEC without MULTI"),
            DiscardWithoutMulti => write_str(f, "ERR DISCARD without MULTI"),
            ExecAbort => write_str(f, "EXECABORT Transaction discarded because of previous errors."),
            ExecAbortBecause(why) => {
                f.write_all(b"EXECABORT Transaction discarded because of: ")?;
                f.write_all(why)
            }
            NotInTransaction => write_str(f, "ERR Command not allowed inside a transaction"),
            NegativeNumKeys => write_str(f, "ERR Number of keys can't be negative"),
            TooManyNumKeys => write_str(f, "ERR Number of keys can't be greater than number of args"),
            NoScript => write_str(f, "NOSCRIPT No matching script. Please use EVAL."),
            Script(text) => f.write_all(text),
            ScriptFlushOption => write_str(f, "ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
            NotBusy => write_str(f, "NOTBUSY No scripts in execution right now."),
            Busy => {
                write_str(f, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            }
            BusyFunction => {
                write_str(f, "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
            }
            FunctionNotFound => write_str(f, "ERR Function not found"),
            FunctionWriteInRo => write_str(f, "ERR Can not execute a script with write flag using *_ro command."),
            LibraryMetadataMissing => write_str(f, "ERR Missing library metadata"),
            LibraryMetadataInvalid(word) => write!(f, "ERR Invalid metadata value given: {word}"),
            LibraryNameRepeated => write_str(f, "ERR Invalid metadata value, name argument was given multiple times"),
            EngineNotFound(engine) => write!(f, "ERR Engine '{engine}' not found"),
            LibraryNameMissing => write_str(f, "ERR Library name was not given"),
            LibraryNameInvalid => write_str(
                f,
                "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one \
                 character long",
            ),
            NoFunctionsRegistered => write_str(f, "ERR No functions registered"),
            BadNumberOfKeys => write_str(f, "ERR Bad number of keys provided"),
            FunctionLoadOption(option) => {
                write_str(f, "ERR Unknown option given: ")?;
                f.write_all(option.split(|&b| b == 0).next().unwrap_or_default())
            }
            LibraryExists(name) => write!(f, "ERR Library '{name}' already exists"),
            FunctionExists(name) => write!(f, "ERR Function {name} already exists"),
            RestoredLibraryExists(name) => write!(f, "ERR Library {name} already exists"),
            RestorePolicy => {
                write_str(f, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
            }
            NotAFunction => write_str(f, "ERR given type is not a function"),
            LibraryNotFound => write_str(f, "ERR Library not found"),
            FunctionFlushOption => write_str(f, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            LibraryPatternMissing => write_str(f, "ERR library name argument was not given"),
            FunctionListArgument(arg) => {
                write_str(f, "ERR Unknown argument ")?;
                f.write_all(arg.split(|&b| b == 0).next().unwrap_or_default())
            }
            Unkillable => write_str(
                f,
                "UNKILLABLE Sorry the script already executed write commands against the dataset. \
                 You can either wait the script termination or kill the server in a hard way using \
                 the SHUTDOWN NOSAVE command.",
            ),
            SubscribedContext(name) => write!(
                f,
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
                 are allowed in this context"
            ),
            DbIndexOutOfRange => write_str(f, "ERR DB index is out of range"),
            SameObject => write_str(f, "ERR source and destination objects are the same"),
            StringTooLong => write_str(f, "ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            BitOffset => write_str(f, "ERR bit offset is not an integer or out of range"),
            BitValue => write_str(f, "ERR bit is not an integer or out of range"),
            BitArgument => write_str(f, "ERR The bit argument must be 1 or 0."),
            BitopNotSingleKey => write_str(f, "ERR BITOP NOT must be called with a single source key."),
            BitfieldOverflowType => write_str(f, "ERR Invalid OVERFLOW type specified"),
            BitfieldInvalidType => write_str(
                f,
                "ERR Invalid bitfield type. Use something like i16 u8. \
                 Note that u64 is not supported but i64 is.",
            ),
            BitfieldReadOnly => write_str(f, "ERR BITFIELD_RO only supports the GET subcommand"),
            NoSuchClient => write_str(f, "ERR No such client"),
            NoSuchUser(user) => with_name(f, "ERR No such user '", user, "'"),
            MaxClients => write_str(f, "ERR max number of clients reached"),
            ConfigUnknown(name) => {
                write!(f, "ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            ConfigSetFailed { name, reason } => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
            }
            ConfigImmutable(name) => {
                write!(f, "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
            }
            NoConfigFile => write_str(f, "ERR The server is running without a config file"),
            RewriteFailed(why) => write!(f, "ERR Rewriting config file: {why}"),
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
            Protocol(p) => write_str(f, &protocol_text(*p)),
            InvalidOptionCombination => write_str(f, "ERR syntax error"),
            ClientNameSpaces => write_str(f, "ERR Client names cannot contain spaces, newlines or special characters."),
            ClientSetinfoAttr(attr) => with_name(f, "ERR Unrecognized option '", attr, "'"),
            ClientSetinfoChars(attr) => write!(f, "ERR {attr} cannot contain spaces, newlines or special characters."),
            LcsLenAndIdx => write_str(f, "ERR If you want both the length and indexes, please just use IDX."),
            Internal => write_str(f, "ERR internal error"),
            NoShutdownInProgress => write_str(f, "ERR No shutdown in progress."),
            Bare => write_str(f, "ERR"),
            BgsaveInProgress => write_str(f, "ERR Background save already in progress"),
            MisConf => write_str(
                f,
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. \
                 Commands that may modify the data set are disabled, because this instance is configured to report \
                 errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check \
                 the Redis logs for details about the RDB error.",
            ),
            MisConfAof(why) => write!(f, "MISCONF Errors writing to the AOF file: {why}"),
            BgsaveDuringRewrite => write_str(
                f,
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order \
                 to schedule a BGSAVE whenever possible.",
            ),
            RewriteInProgress => write_str(f, "ERR Background append only file rewriting already in progress"),
            BusyKey => write_str(f, "BUSYKEY Target key name already exists."),
            InvalidTtl => write_str(f, "ERR Invalid TTL value, must be >= 0"),
            DumpPayload => write_str(f, "ERR DUMP payload version or checksum are wrong"),
            BadDataFormat => write_str(f, "ERR Bad data format"),
            InvalidIdletime => write_str(f, "ERR Invalid IDLETIME value, must be >= 0"),
            InvalidFreq => write_str(f, "ERR Invalid FREQ value, must be >= 0 and <= 255"),
            ShutdownSaveFailed => write_str(f, "ERR Errors trying to SHUTDOWN. Check logs."),
            DebugReloadOption => write_str(f, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."),
            DebugReloadFailed => write_str(f, "ERR Error trying to load the RDB dump, check server logs."),
            ProtocolVersionNotInteger => write_str(f, "ERR Protocol version is not an integer or out of range"),
            HelloSyntax(word) => with_name(f, "ERR Syntax error in HELLO option '", word, "'"),
            NoAuthHello => write_str(
                f,
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            ),
            UnknownClientType(t) => with_name(f, "ERR Unknown client type '", t, "'"),
            ClientIdNotPositive => write_str(f, "ERR client-id should be greater than 0"),
            InvalidClientId => write_str(f, "ERR Invalid client ID"),
            InvalidCommandSpecified => write_str(f, "ERR Invalid command specified"),
            InvalidArgumentCount => write_str(f, "ERR Invalid number of arguments specified for command"),
            NoKeyArguments => write_str(f, "ERR The command has no key arguments"),
            LcsNotStrings => write_str(f, "ERR The specified keys must contain string values"),
            CountOutOfRange => write_str(
                f,
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            ValueOutOfRange => write_str(f, "ERR value is out of range"),
            MustBePositiveRange => write_str(f, "ERR value is out of range, must be positive"),
            NumkeysNotPositive => write_str(f, "ERR numkeys should be greater than 0"),
            NumkeysTooMany => write_str(f, "ERR Number of keys can't be greater than number of args"),
            LimitNegative => write_str(f, "ERR LIMIT can't be negative"),
            IndexOutOfRange => write_str(f, "ERR index out of range"),
            RankZero => write_str(
                f,
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                 or use negative to start from the end of the list",
            ),
            CountNegative => write_str(f, "ERR COUNT can't be negative"),
            MaxlenNegative => write_str(f, "ERR MAXLEN can't be negative"),
            CountNotPositive => write_str(f, "ERR count should be greater than 0"),
            ZaddNxXx => write_str(f, "ERR XX and NX options at the same time are not compatible"),
            ZaddGtLtNx => write_str(f, "ERR GT, LT, and/or NX options at the same time are not compatible"),
            ZaddIncrPair => write_str(f, "ERR INCR option supports a single increment-element pair"),
            ZsetNan => write_str(f, "ERR resulting score is not a number (NaN)"),
            MinMaxNotFloat => write_str(f, "ERR min or max is not a float"),
            MinMaxNotString => write_str(f, "ERR min or max not valid string range item"),
            WeightNotFloat => write_str(f, "ERR weight value is not a float"),
            AtLeastOneInputKey(name) => write!(f, "ERR at least 1 input key is needed for '{name}' command"),
            LimitNeedsByScoreOrLex => {
                write_str(f, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            }
            WithScoresWithByLex => write_str(f, "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            HashValueNotInteger => write_str(f, "ERR hash value is not an integer"),
            HashValueNotFloat => write_str(f, "ERR hash value is not a float"),
            TimeoutNotFloat => write_str(f, "ERR timeout is not a float or out of range"),
            TimeoutNegative => write_str(f, "ERR timeout is negative"),
            TimeoutNotInteger => write_str(f, "ERR timeout is not an integer or out of range"),
            SortNotDouble => write_str(f, "ERR One or more scores can't be converted into double"),
            Unblocked => write_str(f, "UNBLOCKED client unblocked via CLIENT UNBLOCK"),
            UnblockedRoleChange => write_str(
                f,
                "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
            ),
            UnblockReason => write_str(f, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            PauseMode => write_str(f, "ERR CLIENT PAUSE mode must be WRITE or ALL"),
            ShutdownNotPossible => write_str(f, "ERR Errors trying to SHUTDOWN. Check logs."),
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
