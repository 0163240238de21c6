"""Camera, face detection/quality/embedding, the matcher, liveness."""
