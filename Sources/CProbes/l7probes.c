/* The loader around the generated skeleton (being written). */
