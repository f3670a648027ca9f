namespace VirtualStack.Contracts.Stacks;

/// <summary>Services the host gives every stack.</summary>
public interface IStackHost
{
    /// <summary>
    /// Firewall mark (SO_MARK) that every socket a stack opens must carry. The host's policy routing sends marked
    /// traffic past the VNIC; an unmarked socket sending to a captured prefix would loop back into VirtualStack.
    /// </summary>
    int SocketMark { get; }

    /// <summary>Writes a log line (not on the per-packet path).</summary>
    void Log(StackLogLevel level, string message);
}

/// <summary>Severity of a stack's log line.</summary>
public enum StackLogLevel
{
    /// <summary>Diagnostic detail.</summary>
    Debug,
    /// <summary>Normal operation.</summary>
    Information,
    /// <summary>Something went wrong but the stack carries on.</summary>
    Warning,
    /// <summary>The stack cannot carry on.</summary>
    Error,
}
