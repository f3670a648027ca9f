using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Decision;

/// <summary>What the host gives a rule's policy: the wall clock and a log whose lines name the rule and the policy.</summary>
internal sealed class PolicyHost(string rule, string policy, Action<string> log, TimeProvider? time = null) : IPolicyHost
{
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    public void Log(string message) => log($"rule {rule}: policy {policy}: {message}");
}
