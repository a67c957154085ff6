namespace Nnl.Engine.Tokenizers;

/// <summary>
/// A tokenizer file (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json) that cannot be
/// read or describes something Nnl does not support. The message names the file and what was wrong.
/// </summary>
public sealed class NnlTokenizerFormatException : NnlException
{
    public NnlTokenizerFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    public string FilePath { get; }
    public string Problem { get; }
    public override string ErrorId => "TokenizerFormatInvalid";
    public override string Category => "InvalidData";
}
