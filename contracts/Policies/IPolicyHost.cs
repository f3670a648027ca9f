namespace VirtualStack.Contracts.Policies;

/// <summary>Services the host gives every policy.</summary>
public interface IPolicyHost
{
    /// <summary>The clock for wall-clock time (time of day); tests give a fake one. Do not read it per packet.</summary>
    TimeProvider Time { get; }

    /// <summary>Writes a log line, prefixed with the rule and the policy (never on the per-packet path).</summary>
    void Log(string message);
}
