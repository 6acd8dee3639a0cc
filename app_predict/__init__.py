"""Prediction app: upload an image or recording, get a calibrated answer, an explanation and an audit trail."""
