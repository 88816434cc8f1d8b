"""Streamlit helpers shared by the pages; `core/` holds everything else."""
