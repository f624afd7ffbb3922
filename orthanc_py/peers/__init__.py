"""Orthanc peers: other Orthanc servers reached over HTTP (``OrthancPeers``)."""
