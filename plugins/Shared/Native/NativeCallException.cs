namespace VirtualStack.Plugins.Shared.Native;

/// <summary>A system call failed; the message says which, why, and what to do about it where that is known.</summary>
internal sealed class NativeCallException : IOException
{
    public NativeCallException(string call, int errno, string? hint = null)
        : base(hint is null ? $"{call} failed: {Errno.Describe(errno)}." : $"{call} failed: {Errno.Describe(errno)}; {hint}")
    {
        Call = call;
        ErrorNumber = errno;
    }

    /// <summary>The call that failed, with its main arguments.</summary>
    public string Call { get; }

    /// <summary>The errno it set.</summary>
    public int ErrorNumber { get; }
}
