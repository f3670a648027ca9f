namespace VirtualStack.Contracts.Policies;

/// <summary>
/// Creates instances of one kind of decision policy (Static, TimedSwitch, ...). Provided by a plugin through
/// <see cref="Plugins.IPluginRegistry.AddPolicy"/>; a rule selects it by <see cref="Name"/> in its <c>Policy</c> key
/// and configures it with <c>PolicyOptions</c>.
/// </summary>
public interface IPolicyFactory
{
    /// <summary>Name configuration and <c>vs policy</c> use (for example <c>TimedSwitch</c>), compared case-insensitively.</summary>
    string Name { get; }

    /// <summary>One line for <c>vs plugins</c>: what the policy does.</summary>
    string Description { get; }

    /// <summary>
    /// Checks a rule's policy options against the rule's stacks before anything is created: at start, and for
    /// every <c>vs policy</c> command (a command that fails here changes nothing). Returns null when they are
    /// valid, else a message naming the option and what is wrong with it.
    /// </summary>
    string? Validate(PolicyOptions options);

    /// <summary>Creates the policy of one rule. Called once per rule at start and once per accepted <c>vs policy</c>.</summary>
    IDecisionPolicy Create(PolicyOptions options, IPolicyHost host);
}
