namespace Nnl.Engine.Tokenizers;

/// <summary>
/// One token of a text (ConvertTo-NnlToken, `nnl tokenize`). <see cref="Text"/> is what the token
/// reads as ("Ġworld" reads " world"; a token holding part of a character reads U+FFFD);
/// <see cref="Piece"/> is how the vocabulary writes it; <see cref="Bytes"/> are its exact bytes.
/// <see cref="Index"/> counts from 0 within its input text, <see cref="InputIndex"/> says which text.
/// </summary>
public sealed record NnlToken(int InputIndex, int Index, int Id, string Text, string Piece, byte[] Bytes, bool Special);
