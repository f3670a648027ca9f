using System.Runtime.InteropServices;

namespace VirtualStack.Host.Native;

/// <summary>Turns a failed system call into an exception that says what failed and why.</summary>
internal static class SystemError
{
    public static IOException Exception(string call, int errno) =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    public static IOException Last(string call) => Exception(call, Marshal.GetLastPInvokeError());
}
