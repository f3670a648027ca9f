using System.Globalization;
using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>The errno values the stacks act on, and their names for messages.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EMSGSIZE = 90;
    public const int ENOPROTOOPT = 92;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
    public const int ENETUNREACH = 101;
    public const int ENOBUFS = 105;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;

    /// <summary>The errno of the last failed call on this thread.</summary>
    public static int Last => Marshal.GetLastPInvokeError();

    /// <summary>The symbolic name, e.g. <c>EMFILE</c>, or the number.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        EINTR => "EINTR",
        EAGAIN => "EAGAIN",
        EACCES => "EACCES",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EMSGSIZE => "EMSGSIZE",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        ENETUNREACH => "ENETUNREACH",
        ENOBUFS => "ENOBUFS",
        ECONNREFUSED => "ECONNREFUSED",
        EHOSTUNREACH => "EHOSTUNREACH",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Text such as <c>Too many open files (EMFILE)</c>.</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} ({Name(errno)})";

    /// <summary>True for the two ways of running out of file descriptors.</summary>
    public static bool IsOutOfDescriptors(int errno) => errno is EMFILE or ENFILE;

    /// <summary>True when the caller lacks a privilege.</summary>
    public static bool IsPermission(int errno) => errno is EPERM or EACCES;
}
