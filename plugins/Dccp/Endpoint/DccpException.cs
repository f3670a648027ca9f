using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Endpoint;

/// <summary>A DCCP connection could not be opened or used: refused, reset, timed out or closed.</summary>
public sealed class DccpException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DccpException(string message, DccpResetCode? resetCode = null)
        : base(message)
    {
        ResetCode = resetCode;
    }

    /// <summary>Creates the exception.</summary>
    public DccpException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public DccpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The Reset code involved, when a Reset ended the connection.</summary>
    public DccpResetCode? ResetCode { get; }
}
