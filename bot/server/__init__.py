"""Running the assistant: the process runner, the Rasa server's endpoints and stores, the model."""
