namespace VirtualStack.Host.Management;

/// <summary>A management command that is refused (unknown flow, stack not in the rule, invalid policy): nothing was changed.</summary>
internal sealed class ManagementException(string message) : Exception(message);
