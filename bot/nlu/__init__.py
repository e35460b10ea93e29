"""shopbot's NLU: its intent model, the Rasa component wrapping it, and the NLU evaluation."""
