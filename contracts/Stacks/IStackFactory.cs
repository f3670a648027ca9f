namespace VirtualStack.Contracts.Stacks;

/// <summary>Creates instances of one kind of stack (Udp, Dccp, Raw, ...). Provided by a plugin.</summary>
public interface IStackFactory
{
    /// <summary>Name configuration uses in a stack's <c>Plugin</c> key (for example <c>Udp</c>).</summary>
    string Name { get; }

    /// <summary>One line for <c>vs plugins</c>: what the stack does.</summary>
    string Description { get; }

    /// <summary>
    /// Checks a stack's options before anything on the system is touched. Returns null when they are valid, else
    /// a message naming the option and what is wrong with it.
    /// </summary>
    string? Validate(StackOptions options);

    /// <summary>Creates a configured stack. Called once per configured stack, at start.</summary>
    ITransportStack Create(StackOptions options, IStackHost host);
}
