namespace VirtualStack.Host.Cli;

/// <summary>Bad command-line usage: the message says which option and what is wrong; exit status 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
